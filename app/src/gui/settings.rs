//! Settings that persist across runs: a TOML file in the platform's config directory
//! (`directories::ProjectDirs`), or in `$AUDIOMI_CONFIG_DIR` when set (tests, portable use).
//! Loading is tolerant: a missing or broken file means defaults (and a logged warning).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Everything the window remembers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The Server tab.
    pub server: ServerSettings,
    /// The Receiver tab.
    pub receiver: ReceiverSettings,
}

/// The Server tab's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Listen address.
    pub host: String,
    /// TCP port, as typed.
    pub port: String,
    /// Checkcode, as typed.
    pub checkcode: String,
    /// The last source spec (`loopback:ID`, `mic`, `file:PATH`, `tone:HZ`).
    pub source: Option<String>,
    /// The web player's port, as typed (empty: no web player).
    pub http_port: String,
    /// The Icecast mount to publish to, without its password (empty: none). The password is
    /// never saved.
    pub icecast_url: String,
    /// The stream's format, `RATE:CHANNELS` (the *Quality* pick; `FORMAT` in `.env` by default).
    pub format: String,
}

/// The Receiver tab's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReceiverSettings {
    /// Server address.
    pub host: String,
    /// TCP port, as typed.
    pub port: String,
    /// Checkcode, as typed.
    pub checkcode: String,
    /// Folder for new recordings (None: the user's Music/Audio folder, else home).
    pub folder: Option<PathBuf>,
    /// Play while recording.
    pub listen: bool,
    /// Reconnect when the server goes away.
    pub reconnect: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self::with_env(&engine::config::Settings::default())
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Settings::default().server
    }
}

impl Default for ReceiverSettings {
    fn default() -> Self {
        Settings::default().receiver
    }
}

impl Settings {
    /// Defaults taken from `HOST`, `PORT`, `CHECKCODE`, `HTTP_PORT` in `env` (the environment or `.env`),
    /// else the built-in ones.
    pub fn with_env(env: &engine::config::Settings) -> Self {
        let get = |k: &str, d: &str| {
            env.get(k)
                .map_or_else(|| d.to_string(), |(v, _)| v.to_string())
        };
        let port = get("PORT", &wire::DEFAULT_PORT.to_string());
        let checkcode = get("CHECKCODE", &wire::DEFAULT_CHECKCODE.to_string());
        Self {
            server: ServerSettings {
                host: get("HOST", engine::config::DEFAULT_SERVE_HOST),
                port: port.clone(),
                checkcode: checkcode.clone(),
                source: None,
                http_port: get("HTTP_PORT", &engine::web::DEFAULT_HTTP_PORT.to_string()),
                icecast_url: String::new(),
                format: get("FORMAT", "16000:1"),
            },
            receiver: ReceiverSettings {
                host: get("HOST", engine::config::DEFAULT_RECORD_HOST),
                port,
                checkcode,
                folder: None,
                listen: false,
                reconnect: true,
            },
        }
    }

    /// The settings file: `$AUDIOMI_CONFIG_DIR/settings.toml`, else the platform config dir's.
    pub fn path() -> Option<PathBuf> {
        Some(crate::paths::config_dir().join("settings.toml"))
    }

    /// Loads `path`, or returns `defaults` if it is missing; a file that cannot be read or parsed
    /// also gives `defaults`, with a warning. Never fails.
    pub fn load(path: Option<&Path>, defaults: Settings) -> Self {
        let Some(path) = path else { return defaults };
        match std::fs::read_to_string(path) {
            Ok(text) => match toml::from_str::<Settings>(&text) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "ignoring a broken settings file");
                    defaults
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => defaults,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the settings file");
                defaults
            }
        }
    }

    /// Writes the settings to `path` (creating its folder). Failures are logged, not fatal.
    pub fn save(&self, path: Option<&Path>) {
        let Some(path) = path else { return };
        let result = (|| -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let text = toml::to_string_pretty(self).map_err(std::io::Error::other)?;
            std::fs::write(path, text)
        })();
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "cannot save settings");
        }
    }
}

/// The folder new recordings go to: the user's Music (audio) folder, else home, else the current
/// directory.
pub fn default_recordings_folder() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| {
            u.audio_dir()
                .map(Path::to_path_buf)
                .or_else(|| Some(u.home_dir().to_path_buf()))
        })
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_a_broken_file_gives_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("settings.toml");
        let mut s = Settings::default();
        s.server.port = "27000".into();
        s.receiver.listen = true;
        s.save(Some(&path));
        assert_eq!(Settings::load(Some(&path), Settings::default()), s);
        std::fs::write(&path, "server = [this is not toml").expect("write");
        assert_eq!(
            Settings::load(Some(&path), Settings::default()),
            Settings::default()
        );
        std::fs::write(&path, "[server]\nport = \"1234\"\n").expect("write");
        let partial = Settings::load(Some(&path), Settings::default());
        assert_eq!(partial.server.port, "1234");
        assert_eq!(
            partial.receiver,
            Settings::default().receiver,
            "missing fields take defaults"
        );
        assert_eq!(
            Settings::load(Some(&dir.path().join("none.toml")), Settings::default()),
            Settings::default()
        );
    }
}
