//! Where audioMi keeps its files.

use std::path::PathBuf;

/// The config folder: `$AUDIOMI_CONFIG_DIR` when set (tests, portable use), else the platform's
/// (`~/.config/audiomi` on Linux, via `directories`), else `./.audiomi` if the platform has none.
/// Holds `settings.toml`, the self-signed TLS certificate and `known_servers.toml`.
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AUDIOMI_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("org", "audiomi", "audiomi").map_or_else(
        || PathBuf::from(".audiomi"),
        |d| d.config_dir().to_path_buf(),
    )
}
