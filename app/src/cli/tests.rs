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

/// The one-line error clap gives for `args`, without its usage lines.
fn error_of(args: &[&str]) -> String {
    let e = Cli::try_parse_from(args).expect_err("refused");
    e.to_string().lines().next().unwrap_or_default().to_string()
}

#[test]
fn negative_and_out_of_range_values_are_value_errors() {
    // Before: "unexpected argument '-1' found"; now the value and the rule.
    let e = error_of(&["audiomi", "record", "--duration", "-1"]);
    assert!(e.contains("'--duration"), "{e}");
    assert!(e.contains("above 0"), "{e}");
    let e = error_of(&["audiomi", "listen", "--jitter-ms", "-5"]);
    assert!(e.contains("'--jitter-ms"), "{e}");
    assert!(e.contains("0 or more milliseconds"), "{e}");
    let e = error_of(&["audiomi", "record", "--duration", "0"]);
    assert!(e.contains("above 0"), "{e}");
    // The range clap states is the one that is accepted: 0 is not a port to give.
    for port in ["99999", "0"] {
        let e = error_of(&["audiomi", "serve", "--port", port]);
        assert!(e.contains("1..=65535"), "--port {port}: {e}");
        let e = error_of(&["audiomi", "record", "--port", port]);
        assert!(e.contains("1..=65535"), "--port {port}: {e}");
    }
}

/// The `--help` text of a subcommand.
fn help_of(sub: &str) -> String {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    cmd.build();
    let sub = cmd.find_subcommand_mut(sub).expect("subcommand");
    sub.render_long_help().to_string()
}

#[test]
fn help_names_each_environment_variable_once_and_fits_each_subcommand() {
    for sub in ["serve", "record", "listen", "chat", "discover"] {
        let help = help_of(sub);
        for var in ["AUDIOMI_ACCESS_KEY", "AUDIOMI_MDNS_INTERFACE"] {
            assert!(
                help.matches(var).count() <= 1,
                "{sub}: {var} twice:\n{help}"
            );
            assert!(
                !help.contains(&format!("{var}=")),
                "{sub}: {var}'s value shown:\n{help}"
            );
        }
    }
    assert!(help_of("serve").contains("Address to listen on"));
    for sub in ["serve", "record", "listen", "chat"] {
        let help = help_of(sub);
        let connects = help.contains("connect to (record");
        assert!(!connects, "{sub}: the combined --host text:\n{help}");
    }
    for sub in ["record", "listen", "chat"] {
        assert!(
            help_of(sub).contains("Host of the server to connect to"),
            "{sub}"
        );
    }
    assert!(!help_of("listen").contains("Write (and play)"));
}
