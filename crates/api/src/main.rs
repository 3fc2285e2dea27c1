//! `toolkit-sync`: loads the configuration, starts the server, stops gracefully on SIGINT/SIGTERM.

use toolkit_api::{Application, configuration, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // One process-wide rustls provider (ring), before anything can ask for a default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = match configuration::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("toolkit-sync: configuration error: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    telemetry::init(&settings.log);
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "start-up failed");
            return std::process::ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "server stopped with an error");
            std::process::ExitCode::FAILURE
        }
    }
}
