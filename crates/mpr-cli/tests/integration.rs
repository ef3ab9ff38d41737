//! The `mpr` command tested as users and plugin authors use it.

mod bad_input;
mod contract;
mod selection;
mod stress;
mod trust;
mod util;
