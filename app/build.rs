//! Embeds the icon and version information in the Windows executable (winresource); does
//! nothing on other platforms.

fn main() {
    println!("cargo:rerun-if-changed=../assets/audiomi.ico");
    #[cfg(windows)]
    {
        let mut res = winresource::WindowsResource::new();
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
}
