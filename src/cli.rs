//! The command line: serve (default), migrate, create-owner, rotate-key, export-schema, reindex and seed-demo.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::{Settings, VARIABLES};
use crate::{App, db, resolvers, seed, telemetry};

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
    /// Create the shop owner's account (first run). The password is asked for, or read from stdin when piped.
    CreateOwner {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Owner")]
        name: String,
    },
    /// Add a new RS256 signing key to AUTOSHOP_KEYS_DIR; it signs after the next start while older keys keep
    /// verifying. Remove an old key once the access-token lifetime has passed.
    RotateKey,
    /// Write the GraphQL schema (SDL) to a file.
    ExportSchema {
        #[arg(long, default_value = "schema.graphql")]
        out: PathBuf,
    },
    /// Rebuild the search index from the database, into a fresh index swapped in when complete; the server may
    /// keep running.
    Reindex,
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
        Command::CreateOwner { email, name } => create_owner(settings, &email, &name).await,
        Command::RotateKey => {
            let dir = &settings.auth.keys_dir;
            let file = crate::auth::keys::add_key_file(dir)?;
            println!(
                "wrote {}; restart the replicas to sign with it",
                dir.join(file).display()
            );
            Ok(())
        }
        Command::ExportSchema { out } => {
            std::fs::write(&out, resolvers::sdl())
                .with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::Reindex => {
            let db = db::connect(&settings.database).await?;
            let index = crate::search::open(&settings.search).await?;
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} documents ({eta})")
                    .map_err(anyhow::Error::msg)?,
            );
            let n = crate::search::outbox::reindex(&db, index.as_ref(), &|done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .await?;
            bar.finish();
            println!("indexed {n} documents");
            Ok(())
        }
        Command::SeedDemo { scale } => {
            let db = db::connect(&settings.database).await?;
            db.migrate_up().await?;
            let summary = seed::demo(&db, seed::Volume::scale(scale), true).await?;
            println!("{summary}");
            if settings.is_development() {
                demo_logins(&db).await?;
            } else {
                println!("production: the demo staff cannot sign in (no passwords are set)");
            }
            Ok(())
        }
    }
}

/// Lets the demo staff sign in with one new password, shown here once.
async fn demo_logins(db: &db::Db) -> anyhow::Result<()> {
    use crate::auth::password::{Hasher, Password};
    let mut rng = fastrand::Rng::new();
    let text: String = std::iter::repeat_with(|| rng.alphanumeric())
        .take(16)
        .collect();
    let password = Password::parse("password", &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = Hasher::new(1)
        .hash(&password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let logins = seed::demo_logins(db, &hash).await?;
    println!("\nDemo staff who can sign in (development only; the password is shown this once):");
    for l in &logins {
        println!("  {:<16} {:<28} {}", l.role, l.email, l.branch);
    }
    println!("  password: {text}");
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Owner's password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

async fn create_owner(settings: Settings, email: &str, name: &str) -> anyhow::Result<()> {
    use crate::auth::password::Password;
    use crate::domain::{Email, NonEmpty};
    let email: Email = email
        .parse()
        .map_err(|e: crate::domain::ParseError| anyhow::anyhow!(e.message))?;
    let name = NonEmpty::parse("name", name).map_err(|e| anyhow::anyhow!(e.message))?;
    let password =
        Password::parse("password", &read_password()?).map_err(|e| anyhow::anyhow!("{e}"))?;
    let db = db::connect(&settings.database).await?;
    if settings.database.auto_migrate {
        db.migrate_up().await?;
    }
    let auth = crate::auth::Auth::load(&settings).await?;
    anyhow::ensure!(
        !crate::services::users::owner_exists(&db).await?,
        "the shop already has an owner; they add users from the app"
    );
    let user = crate::services::users::create_owner(&db, &auth, email, name, password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("created the owner {} ({})", user.email, user.id);
    Ok(())
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
