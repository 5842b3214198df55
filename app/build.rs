//! Embeds the icon and version information in the Windows executable (winresource), also when
//! it is cross-built on Linux with mingw-w64 (`scripts/windows.sh`, which names the resource
//! compiler `x86_64-w64-mingw32-windres`); does nothing for other targets.

fn main() {
    println!("cargo:rerun-if-changed=../assets/audiomi.ico");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let mut res = winresource::WindowsResource::new();
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu") && !cfg!(windows) {
        // Cross-building: mingw-w64's tools carry the target's prefix.
        res.set_windres_path("x86_64-w64-mingw32-windres")
            .set_ar_path("x86_64-w64-mingw32-ar");
    }
    res.set_icon("../assets/audiomi.ico")
        .set("ProductName", "audioMi")
        .set(
            "FileDescription",
            "audioMi: stream what this computer plays, record it on another",
        )
        .set("CompanyName", "audioMi developers");
    if let Err(e) = res.compile() {
        println!("cargo:warning=cannot embed the icon and version: {e}");
    }
}
