//! The Server tab's *Folder (playlist)* source: a chosen folder becomes `folder:DIR`, which
//! serves its files as tracks, and the status line names the track playing.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_folder_is_served_as_a_playlist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.path().join("first song.wav"), spec).expect("wav");
    for i in 0..16_000 {
        w.write_sample((i % 100) as i16).expect("write");
    }
    w.finalize().expect("finalize");

    let mut tab = tone_tab();
    assert!(tab.sources.contains(&SourceChoice::Folder(None)));
    let _ = tab.update(server_tab::Message::FolderPicked(Some(
        dir.path().to_path_buf(),
    )));
    let chosen = tab.selected.as_ref().and_then(SourceChoice::spec);
    assert_eq!(chosen, Some(format!("folder:{}", dir.path().display())));
    assert_eq!(
        tab.sources
            .iter()
            .filter(|s| matches!(s, SourceChoice::Folder(_)))
            .count(),
        1,
        "the chosen folder replaces the picker's folder entry"
    );

    let handle = server_tab::start(server_tab::StartRequest {
        spec: chosen.expect("spec"),
        ..tone_request(0, 20_250_918)
    })
    .await
    .expect("server");
    let mut track = None;
    for _ in 0..100 {
        track = handle.hub().current_track();
        if track.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (position, track) = track.expect("a track within 5 s");
    assert_eq!((position, track.title.as_str()), (0, "first song"));
    // What the status line says of it.
    let event = engine::server::ServerEvent::Source(engine::pipeline::Notice::NowPlaying {
        position,
        track,
    });
    assert_eq!(server_tab::describe(&event), "Now playing: first song.");
    handle.stop().await.expect("stops");
}

/// An audio file or folder source has a path field, so a desktop without a file dialog can
/// still serve one: the typed path becomes the source.
#[test]
fn a_file_or_folder_source_can_be_typed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tab = ServerTab::new(&server_settings());
    assert!(
        ui(tab.view())
            .find(selector::id("server-source-path"))
            .is_err()
    );
    let _ = tab.update(server_tab::Message::SourceSelected(SourceChoice::WavFile(
        None,
    )));
    assert!(!tab.can_start(), "no path yet");
    let wav = dir.path().join("song.wav").display().to_string();
    for m in type_into(tab.view(), "server-source-path", &wav) {
        let _ = tab.update(m);
    }
    assert_eq!(
        tab.selected.as_ref().and_then(SourceChoice::spec),
        Some(format!("file:{wav}"))
    );
    let _ = tab.update(server_tab::Message::SourceSelected(SourceChoice::Folder(
        None,
    )));
    let _ = tab.update(server_tab::Message::SourcePath(
        dir.path().display().to_string(),
    ));
    assert_eq!(
        tab.selected.as_ref().and_then(SourceChoice::spec),
        Some(format!("folder:{}", dir.path().display()))
    );
    // Clearing the path leaves nothing to serve.
    let _ = tab.update(server_tab::Message::SourcePath(String::new()));
    assert!(tab.selected.as_ref().and_then(SourceChoice::spec).is_none());
}

/// A file played once (*Loop* off): its end stops the server, and the tab says "Finished".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_played_once_finishes_and_the_tab_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("short.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).expect("wav");
    for i in 0..4_800 {
        w.write_sample((i % 100) as i16).expect("write");
    }
    w.finalize().expect("finalize");
    let mut tab = ServerTab::new(&server_settings());
    assert!(tab.looping, "files loop unless told otherwise");
    let _ = tab.update(server_tab::Message::SourceSelected(SourceChoice::WavFile(
        None,
    )));
    let _ = tab.update(server_tab::Message::SourcePath(path.display().to_string()));
    assert!(
        ui(tab.view()).find("Loop").is_ok(),
        "a Loop box beside the path"
    );
    let _ = tab.update(server_tab::Message::Loop(false));
    // What the Start task does with the tab's fields.
    let handle = server_tab::start(server_tab::StartRequest {
        spec: format!("file:{}", path.display()),
        looping: tab.looping,
        ..tone_request(0, 20_250_918)
    })
    .await
    .expect("server");
    use futures::StreamExt;
    let mut events = Box::pin(handle.events());
    let _ = tab.update(server_tab::Message::Started(Ok(handle.clone())));
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("the file (0.3 s) ends within 5 s")
            .expect("events go on until it stops");
        let finished = matches!(
            e,
            engine::server::ServerEvent::Source(engine::pipeline::Notice::Finished)
        );
        let _ = tab.update(server_tab::Message::Event(e));
        if finished {
            break;
        }
    }
    assert!(tab.running.is_none() && tab.busy, "the tab is stopping");
    // What the stop task does.
    handle.finished().await;
    handle.stop().await.expect("stop");
    let _ = tab.update(server_tab::Message::Stopped(Ok(())));
    assert_eq!(tab.status, "Finished: the source played to its end.");
    assert!(!tab.busy && tab.can_start());
}
