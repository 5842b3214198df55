//! What the desktop offers the window: a file dialog (or not), and device lists fetched off the
//! window's thread.

use iced::Task;

/// Whether a file dialog can be shown: on Linux rfd needs the desktop portal (over the D-Bus
/// session bus) or the `zenity` program; elsewhere the system's dialog is always there.
pub fn file_dialog_available() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let on_path = |program: &str| {
        std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|dir| dir.join(program).is_file())
        })
    };
    let session_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        || std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists());
    session_bus || on_path("zenity")
}

/// Lists devices with `list` on a blocking thread (cpal may take a while, and alsa-lib's probing
/// must not stall the window); errors in words.
pub fn list_devices(
    list: fn() -> engine::Result<Vec<engine::audio::devices::DeviceInfo>>,
) -> Task<Result<Vec<engine::audio::devices::DeviceInfo>, String>> {
    Task::perform(
        async move { tokio::task::spawn_blocking(list).await },
        |r| match r {
            Ok(Ok(list)) => Ok(list),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        },
    )
}

/// What the window says when no file dialog can be shown.
pub const NO_FILE_DIALOG: &str = "No file dialog is available on this desktop (it needs xdg-desktop-portal or zenity): type the path instead.";
