//! The command line: serve (default), migrate, export-schema and seed-demo.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::{Settings, VARIABLES};
use crate::{App, db, schema, seed, telemetry};

#[derive(Parser, Debug)]
#[command(name = "autoshop", version, about = "GraphQL backend for auto repair shops", after_help = env_help())]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations, or with --down roll back the last N.
    Migrate {
        #[arg(long, value_name = "N")]
        down: Option<u32>,
    },
    /// Write the GraphQL schema (SDL) to a file.
    ExportSchema {
        #[arg(long, default_value = "schema.graphql")]
        out: PathBuf,
    },
    /// Fill an empty database with a living demo shop.
    SeedDemo {
        /// Multiplies the volumes (1 = ~300 customers and ~3000 work orders).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        scale: u32,
    },
}

fn env_help() -> String {
    let mut s =
        String::from("Environment variables (nothing set = embedded default under ./data):\n");
    for (name, what) in VARIABLES {
        s.push_str(&format!("  {name:<32} {what}\n"));
    }
    s
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_logging(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "autoshop stopped");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let development = settings.is_development();
            let app = App::build(settings).await?;
            tracing::info!(address = %app.local_addr(), development, "autoshop listening");
            if development {
                tracing::info!("GraphiQL at http://{}/graphql", app.local_addr());
            }
            app.serve(shutdown_signal()).await.context("serving")?;
            Ok(())
        }
        Command::Migrate { down } => {
            let db = db::connect(&settings.database).await?;
            match down {
                Some(n) => {
                    use migration::MigratorTrait;
                    migration::Migrator::down(&db.conn, Some(n)).await?;
                    println!("rolled back {n} migration(s)");
                }
                None => {
                    db.migrate_up().await?;
                    println!("database is up to date");
                }
            }
            Ok(())
        }
        Command::ExportSchema { out } => {
            std::fs::write(&out, schema::sdl())
                .with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::SeedDemo { scale } => {
            let db = db::connect(&settings.database).await?;
            db.migrate_up().await?;
            let summary = seed::demo(&db, seed::Volume::scale(scale), true).await?;
            println!("{summary}");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
