//! How the Receiver tab handles each message.

use super::*;

impl ReceiverTab {
    pub(super) fn handle(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Host(v) => {
                clear_problem(&mut self.problem, Spot::Host);
                self.host = v;
            }
            Message::Port(v) => {
                clear_problem(&mut self.problem, Spot::Host);
                clear_problem(&mut self.problem, Spot::Port);
                self.port = v;
            }
            Message::Checkcode(v) => {
                clear_problem(&mut self.problem, Spot::Checkcode);
                self.checkcode = v;
            }
            Message::Duration(v) => self.duration = v,
            Message::Out(v) => {
                clear_problem(&mut self.problem, Spot::File);
                self.out = v;
            }
            Message::Listen(v) => {
                clear_problem(&mut self.problem, Spot::Output);
                self.listen = v;
            }
            Message::Reconnect(v) => self.reconnect = v,
            Message::Outputs(Ok(list)) => self.on_outputs(&list),
            Message::Outputs(Err(e)) => tracing::warn!(error = %e, "cannot list output devices"),
            Message::OutputSelected(choice) => {
                clear_problem(&mut self.problem, Spot::Output);
                self.output = choice;
            }
            Message::Browse if !file_dialog_available() => {
                self.problem = Some(Problem::at(Spot::File, NO_FILE_DIALOG));
            }
            Message::Browse => return self.on_browse(),
            Message::Browsed(Some(path), _) => self.on_browsed(path),
            // No person cancels a dialog within a quarter of a second: none was shown (rfd
            // found neither the desktop portal nor zenity).
            Message::Browsed(None, took) if took < Duration::from_millis(250) => {
                self.problem = Some(Problem::at(Spot::File, NO_FILE_DIALOG));
            }
            Message::Browsed(None, _) => {}
            Message::Sighting(s) => self.finder.sighting(s),
            Message::Pick(_) | Message::Tls(_) | Message::AccessKey(_) => self.on_private(message),
            Message::ChatInput(v) => self.chat.input = v,
            Message::ChatSend => self.on_chat_send(),
            Message::Start => return self.on_start(),
            Message::Started(Ok(session)) => return self.on_started(session),
            Message::Started(Err(problem)) => {
                self.status = problem.text.clone();
                self.problem = Some(problem);
            }
            Message::Stop => {
                if let Some(s) = &self.session {
                    s.handle.stop();
                    self.status = "Stopping…".into();
                }
            }
            Message::Finished(summary, problem) => self.on_finished(summary, problem),
            Message::Event(e) => self.on_event(e),
            Message::Tick => self.on_tick(),
            Message::OpenFolder => {
                if let Some(dir) = self.last_file.as_ref().and_then(|p| p.parent()) {
                    let dir = dir.to_path_buf();
                    return Task::perform(
                        async move {
                            tokio::task::spawn_blocking(move || open_folder(&dir))
                                .await
                                .unwrap_or_else(|e| Err(e.to_string()))
                        },
                        Message::FolderOpened,
                    );
                }
            }
            Message::FolderOpened(Ok(())) => {}
            Message::FolderOpened(Err(why)) => self.status = why,
        }
        Task::none()
    }

    /// Output devices listed: *Default output* first; a vanished pick falls back to it.
    fn on_outputs(&mut self, list: &[DeviceInfo]) {
        self.outputs = std::iter::once(OutputChoice::Default)
            .chain(list.iter().map(OutputChoice::from_device))
            .collect();
        if !self.outputs.contains(&self.output) {
            self.output = OutputChoice::Default;
        }
    }

    /// Opens the save dialog in the folder and with the name of *Record to*.
    fn on_browse(&self) -> Task<Message> {
        let out = PathBuf::from(&self.out);
        let dir = out.parent().map(PathBuf::from);
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        Task::perform(
            async move {
                let opened = Instant::now();
                let mut dialog = rfd::AsyncFileDialog::new()
                    .add_filter("WAV audio", &["wav"])
                    .set_title("Record to…")
                    .set_file_name(name);
                if let Some(d) = dir {
                    dialog = dialog.set_directory(d);
                }
                let chosen = dialog.save_file().await.map(|f| f.path().to_path_buf());
                (chosen, opened.elapsed())
            },
            |(chosen, took)| Message::Browsed(chosen, took),
        )
    }

    /// A file was chosen: `.wav` is added where there is no extension.
    fn on_browsed(&mut self, mut path: PathBuf) {
        if path.extension().is_none() {
            path.set_extension("wav");
        }
        clear_problem(&mut self.problem, Spot::File);
        self.folder = path.parent().map(PathBuf::from);
        self.out = path.display().to_string();
    }

    /// Connect & Record pressed: starts recording from the checked fields.
    /// A server picked from the list, TLS toggled or the key typed.
    fn on_private(&mut self, message: Message) {
        clear_problem(&mut self.problem, Spot::Private);
        match message {
            Message::Pick(fullname) => {
                if let Some((host, port)) = self.finder.pick(&fullname) {
                    clear_problem(&mut self.problem, Spot::Host);
                    self.host = host;
                    self.port = port.to_string();
                }
            }
            Message::Tls(on) => {
                self.finder.tls = on;
                self.finder.pin = None;
                self.finder.key_required = false;
            }
            Message::AccessKey(v) => self.finder.key = v,
            _ => {}
        }
    }

    /// Sends the typed chat line over the recording's connection and shows it.
    fn on_chat_send(&mut self) {
        if let (Some(s), Some(line)) = (&self.session, self.chat.take_input()) {
            s.handle.say(line.clone());
            let me = engine::config::default_receiver_name().unwrap_or_else(|| "me".into());
            self.chat.push(me, line);
        }
    }

    fn on_start(&mut self) -> Task<Message> {
        let Some(config) = self.record_config() else {
            return Task::none();
        };
        // The folder typed or chosen is where the next recordings go (kept in the settings).
        let dir = config.out.as_deref().and_then(std::path::Path::parent);
        if let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) {
            self.folder = Some(dir.to_path_buf());
        }
        let id = self.next_id;
        self.next_id += 1;
        self.status = format!("Connecting to {}…", config.addr);
        self.problem = None;
        self.reset_counters();
        let playback = self.listen.then(|| PlaybackConfig {
            device: self.output.device(),
            ..PlaybackConfig::default()
        });
        Task::perform(begin(id, config, playback), Message::Started)
    }

    /// The recording Connect & Record starts, from the fields (`None` while they are not
    /// valid). A stale default file name gets a fresh one.
    pub fn record_config(&mut self) -> Option<RecordConfig> {
        if !self.can_start() {
            return None;
        }
        let (h, p, c, d) = self.fields();
        let (Some(host), Some(port), Some(checkcode), Some(duration), Ok(out)) =
            (h.value, p.value, c.value, d.value, validate_out(&self.out))
        else {
            return None;
        };
        let mut out = out;
        // The save dialog asked about replacing; a stale default name gets a fresh one.
        if out.exists()
            && out
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("audiomi-"))
        {
            out = self.fresh_file_name();
            self.out = out.display().to_string();
        }
        let mut config = RecordConfig::new(engine::config::socket_addr(&host, port), out);
        config.checkcode = checkcode;
        config.overwrite = true;
        config.duration = duration.map(Duration::from_secs_f64);
        config.reconnect = self.reconnect;
        config.name = engine::config::default_receiver_name();
        config.tls = self.finder.client_options();
        Some(config)
    }

    fn on_started(&mut self, session: Session) -> Task<Message> {
        self.started_at = Some(Instant::now());
        if let Some((device, _)) = session.handle.player() {
            self.status = format!("Connecting… (listening on {device})");
        }
        self.session = Some(session.clone());
        Task::perform(run(session), |(summary, error)| {
            Message::Finished(summary, error)
        })
    }

    /// The recording ended: what was saved, and the problem that ended it (if any).
    fn on_finished(&mut self, summary: Summary, problem: Option<Problem>) {
        self.session = None;
        self.meter = Meter::default();
        self.connected = false;
        self.started_at = None;
        let saved = summary
            .path
            .as_ref()
            .map(|p| format!("Saved {} ({:.1} s).", p.display(), summary.seconds()));
        // A problem shown beside its field is not repeated in the status line.
        let beside_a_field = problem.as_ref().filter(|p| p.spot != Spot::Action);
        self.status = match (&problem, saved) {
            (Some(_), s) if beside_a_field.is_some() => s.unwrap_or_else(|| "Stopped.".into()),
            (Some(e), Some(s)) => format!("{} {s}", e.text),
            (Some(e), None) => e.text.clone(),
            (None, Some(s)) => s,
            (None, None) => "Stopped.".into(),
        };
        self.problem = problem;
        // The final figures are the file's: its frames and its size on the disk.
        self.samples = summary.samples;
        if summary.sample_rate > 0 {
            self.rate = summary.sample_rate;
        }
        self.file_size = summary
            .path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len());
        // Only a file that holds audio becomes the last recording (the engine leaves no
        // file when nothing arrived).
        if let Some(p) = summary.path.filter(|_| summary.samples > 0) {
            self.last_file = Some(p);
            self.out = self.fresh_file_name().display().to_string();
        }
    }

    /// Counters and level of the running recording.
    fn on_tick(&mut self) {
        if let Some(s) = &self.session {
            self.rate = s.handle.stats().sample_rate.load(Ordering::Relaxed);
            self.channels = u16::try_from(s.handle.stats().channels.load(Ordering::Relaxed).max(1))
                .unwrap_or(1);
            // The engine counts samples of all channels; the tab shows frames.
            self.samples =
                s.handle.stats().samples.load(Ordering::Relaxed) / u64::from(self.channels);
            self.bytes = s.handle.stats().bytes_received.load(Ordering::Relaxed);
            let level = if self.connected {
                s.handle.stats().level()
            } else {
                engine::audio::level::Level::SILENCE
            };
            self.meter.update(level);
            self.history
                .push_at(self.meter.rms, std::time::Instant::now());
        }
    }

    fn reset_counters(&mut self) {
        self.rtt = None;
        self.connected = false;
        self.samples = 0;
        self.file_size = None;
        self.bytes = 0;
        self.gap_seconds = 0.0;
        self.now_playing = None;
        self.file_created = false;
        self.meter = Meter::default();
        self.history = History::default();
    }

    fn on_event(&mut self, e: RecordEvent) {
        match e {
            RecordEvent::Connecting { attempt } if attempt > 1 => {
                self.status = format!("Reconnecting (attempt {attempt})…");
            }
            RecordEvent::Connecting { .. } => {}
            RecordEvent::Text { from, text } => self.chat.push(from, text),
            RecordEvent::NowPlaying { title, artist } => {
                self.now_playing = Some(if artist.is_empty() {
                    title
                } else {
                    format!("{title} — {artist}")
                });
            }
            RecordEvent::Connected { addr } => {
                self.connected = true;
                self.status = format!("Connected to {addr}; waiting for the server's answer…");
            }
            RecordEvent::Retrying {
                attempt,
                retry_in,
                error,
            } => {
                // The reason stays beside the field it concerns while the tab retries.
                let problem = super::run::place(&error.0);
                let why = if problem.spot == Spot::Action {
                    format!(": {}", problem.text)
                } else {
                    String::new()
                };
                self.status = format!(
                    "Attempt {attempt} failed{why}. Retrying in {:.1} s…",
                    retry_in.as_secs_f64()
                );
                self.problem = Some(problem);
            }
            RecordEvent::Acked { rtt } => {
                self.problem = None;
                self.rtt = Some(rtt);
                self.status = format!("Recording to {}.", self.out);
            }
            RecordEvent::Format(f) => {
                self.rate = f.sample_rate;
            }
            RecordEvent::FileCreated { path } => {
                self.file_created = true;
                self.status = format!("Recording to {}.", path.display());
            }
            RecordEvent::Gap {
                seconds, reason, ..
            } => {
                self.gap_seconds += seconds;
                self.status = format!("Filled {seconds:.2} s of silence ({reason}).");
            }
            RecordEvent::Lost { reason } => {
                self.connected = false;
                self.status = format!(
                    "{} {}",
                    friendly(&reason),
                    if self.reconnect {
                        "Reconnecting…"
                    } else {
                        ""
                    }
                )
                .trim_end()
                .to_string();
            }
        }
    }
}
