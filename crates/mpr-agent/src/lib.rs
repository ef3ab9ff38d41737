/*!
`mpr agent`: the per-user service that keeps network connections alive
(issue 13), run by systemd as the user unit `mpr-agent.service`
(`Type=notify`). The binary `mpr` only parses the verb, builds the router
and hands it here.

# What it does

- **At start** it restores every remembered connection in the background,
  each on a thread of its own, with saved credentials (the router's hook),
  and tells systemd `READY=1` at once: the login never waits for a server.
- **It watches** every live connection of its user: every
  [`Options::interval`] (5 s), and at once when the network changes
  ([`netlink`]: link, address and route events). A look asks each
  connection's provider for its health (the helper process runs, the mount
  answers a `stat` within 2 s) on threads that may hang without holding up
  the agent.
- **It repairs** a remembered connection that is dead (its helper exited,
  its mount is gone or does not answer) as a restore does: the dead
  connection is cleared and made again, without notifications. An attempt
  that fails is tried again after a wait that doubles from 1 s to 60 s
  ([`Backoff`]); while it waits, the agent knocks at the server's port at
  every look ([`knock`]), and the next attempt starts at once when a server
  that did not answer answers again, or when the network changes.
- **It says so**: each repair and each failed attempt is a journal event
  (`repair`, `repair_failed`) with its reason; the connections it is
  repairing are written to its record ([`mpr_core::repairs`]), which `mpr
  use` merges: such a connection is listed `Reconnecting`, with the reason
  and the next attempt. The record is ignored once the agent is gone.

A connection made without `--persistent` is watched and listed, but not
repaired: nothing remembers how to make it again (as Windows restores only
persistent connections). One agent runs per user (a lock in the runtime
directory). The configuration is read when the agent starts.
*/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod agent;
mod backoff;
pub mod knock;
pub mod netlink;
mod systemd;

pub use agent::{Agent, AgentError, Options, Stopper};
pub use backoff::Backoff;
