//! Flag parsing of the subcommands.

use super::*;

#[test]
fn cli_parses_the_documented_surface() {
    let cli = Cli::try_parse_from([
        "audiomi",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "1234",
        "--checkcode",
        "-5",
        "--source",
        "tone:440",
        "--format",
        "48000:2",
        "--chunk-ms",
        "10",
        "--max-clients",
        "3",
        "--max-lag-ms",
        "500",
    ])
    .expect("serve parses");
    assert!(
        matches!(cli.command, Some(Command::Serve(ref a)) if a.net.checkcode == Some(-5) && a.chunk_ms == 10 && a.format.as_deref() == Some("48000:2"))
    );
    let cli = Cli::try_parse_from([
        "audiomi",
        "record",
        "--out",
        "x.wav",
        "--duration",
        "5",
        "--reconnect",
        "--force",
    ])
    .expect("record parses");
    assert!(
        matches!(cli.command, Some(Command::Record(ref a)) if a.rx.reconnect && a.force && a.rx.duration == Some(5.0))
    );
    assert!(Cli::try_parse_from(["audiomi", "serve", "--port", "70000"]).is_err());
}
