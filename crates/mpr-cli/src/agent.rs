//! `mpr agent`: builds the router (no notifyees: restoring and repairing
//! notify nobody), with saved credentials, and hands it to the `mpr-agent`
//! crate, which runs until SIGTERM, SIGINT or SIGHUP.

use crate::commands::build_router;
use crate::error::CliError;
use mpr_agent::{Agent, AgentError, Options};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Runs the agent until a signal stops it.
pub fn agent() -> Result<(), CliError> {
    let mut router = build_router(false)?;
    router.use_saved_credentials(crate::cred::keyring_passwords());
    let agent = Agent::new(router, Options::default()).map_err(|e| match e {
        AgentError::State { .. } => CliError::Config(e.to_string()),
        _ => CliError::Environment(e.to_string()),
    })?;
    let stopper = agent.stopper();
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| CliError::Internal(anyhow::anyhow!("cannot handle signals: {e}")))?;
    std::thread::Builder::new()
        .name("mpr-agent-signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                stopper.stop();
            }
        })
        .map_err(|e| CliError::Internal(anyhow::anyhow!("cannot start a thread: {e}")))?;
    agent
        .run()
        .map_err(|e| CliError::Environment(e.to_string()))
}
