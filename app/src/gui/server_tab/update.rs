//! How the Server tab handles each message.

use super::*;

impl ServerTab {
    pub(super) fn handle(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Refresh => return Self::refresh(),
            Message::Listed(Ok(list)) => self.on_listed(&list),
            Message::Listed(Err(e)) => self.status = format!("Cannot list sound devices: {e}"),
            Message::SourceSelected(choice) => return self.on_source_selected(choice),
            Message::SourcePath(typed) => self.on_source_path(typed),
            Message::Loop(on) => self.looping = on,
            Message::QualitySelected(q) => {
                if self.running.is_none() && !self.busy {
                    self.quality = q;
                }
            }
            Message::FilePicked(Some(path)) => self.on_picked(SourceChoice::WavFile(Some(path))),
            Message::FilePicked(None) => self.status = "No file chosen.".into(),
            Message::FolderPicked(Some(dir)) => self.on_picked(SourceChoice::Folder(Some(dir))),
            Message::FolderPicked(None) => self.status = "No folder chosen.".into(),
            Message::Host(v) => {
                clear_problem(&mut self.problem, Spot::Host);
                self.host = v;
            }
            Message::Port(v) => {
                clear_problem(&mut self.problem, Spot::Port);
                self.port = v;
            }
            Message::Checkcode(v) => {
                clear_problem(&mut self.problem, Spot::Checkcode);
                self.checkcode = v;
            }
            Message::HttpPort(v) => {
                clear_problem(&mut self.problem, Spot::Action);
                self.web.port = v;
            }
            Message::Icecast(m) => {
                clear_problem(&mut self.problem, Spot::Icecast);
                self.icecast.update(m);
            }
            Message::Private(on) => {
                clear_problem(&mut self.problem, Spot::Private);
                self.private = on;
            }
            Message::AccessKey(v) => {
                clear_problem(&mut self.problem, Spot::Private);
                self.access_key = v;
            }
            Message::Start => return self.on_start(),
            Message::Started(Ok(handle)) => self.on_started(handle),
            Message::Started(Err(problem)) => {
                self.busy = false;
                self.status = problem.text.clone();
                self.problem = Some(problem);
                return self.restart_preview();
            }
            Message::Stop => return self.on_stop(),
            Message::Stopped(result) => return self.on_stopped(result),
            Message::Event(event) => return self.on_event(event),
            Message::ChatInput(v) => self.chat.input = v,
            Message::ChatSend => {
                if let (Some(h), Some(line)) = (&self.running, self.chat.take_input()) {
                    let me =
                        engine::config::default_receiver_name().unwrap_or_else(|| "server".into());
                    h.hub().say(&me, &line);
                }
            }
            Message::Tick => self.on_tick(),
            Message::PreviewStarted(generation, result) => {
                return self.on_preview_started(generation, result);
            }
            Message::PreviewClosed => {}
        }
        Task::none()
    }

    /// Devices listed: keeps the picked entry if it is still there, else picks the one from the
    /// settings, else the first.
    fn on_listed(&mut self, list: &[DeviceInfo]) {
        let keep = self.selected.clone();
        self.sources = list.iter().map(SourceChoice::from_device).collect();
        let file = match &keep {
            Some(SourceChoice::WavFile(p)) => SourceChoice::WavFile(p.clone()),
            _ => SourceChoice::WavFile(None),
        };
        let folder = match &keep {
            Some(SourceChoice::Folder(p)) => SourceChoice::Folder(p.clone()),
            _ => SourceChoice::Folder(None),
        };
        self.sources.push(file);
        self.sources.push(folder);
        self.sources.push(SourceChoice::Tone);
        let wanted = self.wanted_source.take();
        self.selected = keep
            .filter(|k| self.sources.contains(k))
            .or_else(|| {
                wanted.and_then(|w| {
                    self.sources
                        .iter()
                        .find(|s| s.spec().as_deref() == Some(w.as_str()))
                        .cloned()
                })
            })
            .or_else(|| self.sources.first().cloned());
        if list.is_empty() {
            self.status =
                "No sound devices found: you can still serve an audio file or the test tone."
                    .into();
        }
    }

    /// A source picked; a file or folder shows its path field and opens the dialog (or says
    /// why there is none: the path can be typed).
    fn on_source_selected(&mut self, choice: SourceChoice) -> Task<Message> {
        if let SourceChoice::WavFile(path) | SourceChoice::Folder(path) = &choice {
            self.source_path = path
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string());
            self.selected = Some(choice.clone());
        }
        match choice {
            SourceChoice::Folder(_) | SourceChoice::WavFile(_) if !file_dialog_available() => {
                self.problem = Some(Problem::at(Spot::Source, NO_FILE_DIALOG));
            }
            SourceChoice::Folder(_) => {
                return Task::perform(
                    async {
                        rfd::AsyncFileDialog::new()
                            .set_title("Choose a folder of audio files to play")
                            .pick_folder()
                            .await
                            .map(|f| f.path().to_path_buf())
                    },
                    Message::FolderPicked,
                );
            }
            SourceChoice::WavFile(_) => {
                return Task::perform(
                    async {
                        rfd::AsyncFileDialog::new()
                            .add_filter(
                                "Audio files",
                                &[
                                    "wav", "flac", "mp3", "ogg", "oga", "WAV", "FLAC", "MP3", "OGG",
                                ],
                            )
                            .set_title("Choose an audio file to serve")
                            .pick_file()
                            .await
                            .map(|f| f.path().to_path_buf())
                    },
                    Message::FilePicked,
                );
            }
            choice => self.selected = Some(choice),
        }
        Task::none()
    }

    /// The file or folder path typed: the picked entry of that kind takes it (an empty path
    /// leaves it without one, so serving cannot start).
    fn on_source_path(&mut self, typed: String) {
        let path = (!typed.trim().is_empty()).then(|| PathBuf::from(typed.trim()));
        self.source_path = typed;
        match self.selected {
            Some(SourceChoice::WavFile(_)) => self.on_picked(SourceChoice::WavFile(path)),
            Some(SourceChoice::Folder(_)) => self.on_picked(SourceChoice::Folder(path)),
            _ => {}
        }
    }

    /// A file or folder was chosen: it replaces its kind's entry in the picker and is picked.
    fn on_picked(&mut self, choice: SourceChoice) {
        if let SourceChoice::WavFile(Some(p)) | SourceChoice::Folder(Some(p)) = &choice {
            self.source_path = p.display().to_string();
        }
        let same_kind =
            |s: &SourceChoice| std::mem::discriminant(s) == std::mem::discriminant(&choice);
        match self.sources.iter().position(same_kind) {
            Some(at) => self.sources[at] = choice.clone(),
            None => {
                let at = self.sources.len().saturating_sub(1);
                self.sources.insert(at, choice.clone());
            }
        }
        self.selected = Some(choice);
    }

    /// Start pressed: starts the server in the background from the checked fields.
    fn on_start(&mut self) -> Task<Message> {
        if !self.can_start() {
            return Task::none();
        }
        let (h, p, c) = self.fields();
        let (Some(host), Some(port), Some(checkcode)) = (h.value, p.value, c.value) else {
            return Task::none();
        };
        let Some(spec) = self.selected.as_ref().and_then(SourceChoice::spec) else {
            return Task::none();
        };
        let Some(icecast) = self.icecast.parsed().value else {
            return Task::none();
        };
        let Ok(http_port) = self.web_port() else {
            return Task::none();
        };
        self.icecast.starting(icecast.as_ref());
        self.busy = true;
        self.problem = None;
        self.status = format!("Starting {spec} on port {port}…");
        // The preview closes first: a device is opened by one stage at a time.
        self.preview_generation += 1;
        let preview = self.preview.take();
        // A private server's web player is HTTPS (same certificate) and asks for the key.
        let request = StartRequest {
            host,
            port,
            checkcode,
            spec,
            looping: self.looping,
            http_port,
            icecast,
            format: self.quality.0,
            private: self.private.then(|| Private {
                port: engine::secure::DEFAULT_TLS_PORT,
                key: self.access_key.trim().to_string(),
                identity_dir: crate::paths::config_dir(),
            }),
        };
        Task::perform(
            async move {
                let _ = tokio::task::spawn_blocking(move || drop(preview)).await;
                start(request).await
            },
            Message::Started,
        )
    }

    fn on_started(&mut self, handle: Station) {
        self.busy = false;
        self.status = format!(
            "Serving on {}. Receivers connect to this computer's address, port {}.",
            handle.local_addr(),
            handle.local_addr().port()
        );
        self.tls = handle.tls().map(|(addr, fingerprint)| {
            self.status = format!(
                "Serving privately: TLS port {}, access key required, no plaintext port. Receivers check the fingerprint below.",
                addr.port()
            );
            (addr.port(), fingerprint.to_string())
        });
        if let Some(url) = self.web.started(&handle) {
            self.status
                .push_str(&format!(" Any browser or phone: {url}"));
        }
        self.started_at = Some(Instant::now());
        self.bytes = 0;
        self.clients.clear();
        self.running = Some(handle);
    }

    fn on_stop(&mut self) -> Task<Message> {
        let Some(handle) = self.running.take() else {
            return Task::none();
        };
        self.busy = true;
        self.status = "Stopping…".into();
        Task::perform(
            async move { handle.stop().await.map_err(|e| e.to_string()) },
            Message::Stopped,
        )
    }

    /// A server event: chat, the status line, the end of the source.
    fn on_event(&mut self, event: ServerEvent) -> Task<Message> {
        if let ServerEvent::Text { from, text } = &event {
            self.chat.push(from.clone(), text.clone());
        }
        self.status = describe(&event);
        if matches!(event, ServerEvent::Source(Notice::Finished)) {
            return self.on_finished();
        }
        Task::none()
    }

    /// The source played to its end: once every receiver has the last chunk, the server stops
    /// and the status says "Finished".
    fn on_finished(&mut self) -> Task<Message> {
        let Some(handle) = self.running.take() else {
            return Task::none();
        };
        self.busy = true;
        self.finished = true;
        Task::perform(
            async move {
                handle.finished().await;
                handle.stop().await.map_err(|e| e.to_string())
            },
            Message::Stopped,
        )
    }

    fn on_stopped(&mut self, result: Result<(), String>) -> Task<Message> {
        self.busy = false;
        self.started_at = None;
        self.web.stopped();
        self.tls = None;
        self.icecast.stopped();
        self.clients.clear();
        self.meter = Meter::default();
        let finished = std::mem::take(&mut self.finished);
        self.status = match result {
            Ok(()) if finished => "Finished: the source played to its end.".into(),
            Ok(()) => "Stopped.".into(),
            Err(e) => format!("Stopped with an error: {e}"),
        };
        self.restart_preview()
    }

    /// Level, clients and counters of the running server (or the preview's level).
    fn on_tick(&mut self) {
        if let Some(h) = &self.running {
            let stats = h.stats();
            self.meter.update(h.level());
            self.bytes = stats.bytes_queued.load(Ordering::Relaxed);
            self.clients = h.hub().clients();
            self.web.refresh(h);
            self.icecast.refresh(h);
        } else if let Some(p) = &self.preview {
            self.meter.update(p.level());
        }
    }

    /// A preview opened: kept if it is still wanted, else closed.
    fn on_preview_started(
        &mut self,
        generation: u64,
        result: Result<Arc<Preview>, String>,
    ) -> Task<Message> {
        let current = generation == self.preview_generation && self.running.is_none() && !self.busy;
        match result {
            Ok(p) if current => {
                self.meter = Meter::default();
                self.preview = Some(p);
            }
            Ok(p) => return close_preview(Some(p)),
            Err(e) if current => {
                self.problem = Some(Problem::at(
                    Spot::Source,
                    format!("This source cannot be opened: {e}"),
                ));
            }
            Err(_) => {}
        }
        Task::none()
    }
}
