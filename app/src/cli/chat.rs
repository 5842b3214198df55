//! `audiomi chat`: each stdin line is sent; each message from others is printed as `name: text`.

use clap::Args;
use engine::chat::{ChatOptions, chat as run_chat};
use engine::config;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{NetArgs, private, settings, shutdown_signal};

/// `audiomi chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    net: NetArgs,
    /// The name others see [default: this computer's host name].
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    tls: private::ReceiveTlsArgs,
}

/// Chats until stdin ends (every line sent), Ctrl-C, or the server goes away.
pub(super) async fn chat(args: ChatArgs) -> anyhow::Result<()> {
    let settings = settings()?;
    let host = settings.host(args.net.host.as_deref(), config::DEFAULT_RECORD_HOST)?;
    let port = match (args.net.port, args.tls.default_port()) {
        (None, Some(tls_port)) => tls_port,
        (port, _) => settings.port(port)?,
    };
    let options = ChatOptions {
        addr: config::socket_addr(&host, port),
        checkcode: settings.checkcode(args.net.checkcode)?,
        name: args
            .name
            .clone()
            .or_else(config::default_receiver_name)
            .unwrap_or_else(|| "audioMi".into()),
        tls: args.tls.options(args.tls.tls),
    };
    let (out_tx, out_rx) = mpsc::channel::<String>(64);
    let (in_tx, mut in_rx) = mpsc::unbounded_channel::<engine::chat::ChatLine>();
    let stop = CancellationToken::new();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if !line.trim().is_empty() && out_tx.send(line).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(m) = in_rx.recv().await {
            let line = format!("{}: {}\n", m.from, m.text);
            if stdout.write_all(line.as_bytes()).await.is_err() || stdout.flush().await.is_err() {
                break;
            }
        }
    });
    let signal = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signal.cancel();
    });
    run_chat(options, out_rx, in_tx, stop).await?;
    Ok(())
}
