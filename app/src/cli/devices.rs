//! `audiomi devices`.

use super::*;

#[derive(serde::Serialize)]
struct DeviceRow<'a> {
    kind: &'a str,
    id: &'a str,
    spec: String,
    name: &'a str,
    default: bool,
    sample_rate: u32,
    channels: u16,
}

/// `audiomi devices`: sources (or outputs), as a table or JSON.
pub(super) fn devices(args: &DevicesArgs) -> anyhow::Result<()> {
    if !engine::audio::devices::sound_server_running() {
        say!(
            "No PulseAudio or PipeWire server is running, so loopback (capturing what this PC plays) is unavailable; {} through plain ALSA.",
            if args.outputs {
                "outputs are listed"
            } else {
                "microphones are listed"
            }
        );
    }
    let list = if args.outputs {
        engine::audio::devices::list_outputs()?
    } else {
        engine::audio::devices::list_sources()?
    };
    let rows: Vec<DeviceRow<'_>> = list
        .iter()
        .map(|d| DeviceRow {
            kind: d.kind.as_str(),
            id: &d.id,
            spec: d.spec(),
            name: &d.name,
            default: d.is_default,
            sample_rate: d.sample_rate,
            channels: d.channels,
        })
        .collect();
    if args.json {
        out!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        say!("no usable devices found");
        return Ok(());
    }
    // What the id column holds is what the matching option takes.
    let id_label = if args.outputs {
        "OUTPUT-DEVICE"
    } else {
        "SOURCE"
    };
    let width = rows
        .iter()
        .map(|r| r.spec.len())
        .max()
        .unwrap_or(0)
        .max(id_label.len());
    out!(
        "{:<8}  {:<7}  {:>6}  {:>2}  {:<width$}  NAME",
        "KIND",
        "DEFAULT",
        "RATE",
        "CH",
        id_label
    );
    for r in &rows {
        out!(
            "{:<8}  {:<7}  {:>6}  {:>2}  {:<width$}  {}",
            r.kind,
            if r.default { "*" } else { "" },
            r.sample_rate,
            r.channels,
            r.spec,
            r.name
        );
    }
    Ok(())
}
