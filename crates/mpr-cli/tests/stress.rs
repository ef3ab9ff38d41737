//! State under stress (spec §8): concurrent writers, and writers killed
//! with SIGKILL at any moment.

use crate::util::Env;
use std::collections::HashMap;
use std::process::Stdio;

#[test]
fn sixteen_concurrent_uses_on_four_names_give_one_winner_each() {
    let e = Env::new();
    e.setup(&["acme"], &["alpha"]);
    e.behave("np-acme.conf", "delay_ms=40\n");
    let names = ["W:", "X:", "Y:", "Z:"];
    let children: Vec<_> = (0..16)
        .map(|i| {
            let local = names[i % 4];
            let child = e
                .command()
                .args(["use", local, &format!(r"\\acme\share{i}"), "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (local, child)
        })
        .collect();
    let mut wins: HashMap<&str, usize> = HashMap::new();
    for (local, child) in children {
        let r: crate::util::Run = child.wait_with_output().unwrap().into();
        match r.wn() {
            0 => *wins.entry(local).or_default() += 1,
            85 => {}
            other => panic!("{local}: unexpected {other}: {r:?}"),
        }
    }
    for n in names {
        assert_eq!(
            wins.get(n),
            Some(&1),
            "exactly one winner for {n}: {wins:?}"
        );
    }
    let list = e.mpr(&["use", "--json"]);
    assert_eq!(list.code, 0, "{list:?}");
    let rows = list.json()["connections"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r["status"] == "OK"));
    let text = std::fs::read_to_string(e.path("run/connections.toml")).unwrap();
    toml::from_str::<toml::Table>(&text).expect("the live table parses");
}

#[test]
fn writers_killed_with_sigkill_never_leave_a_torn_file() {
    let e = Env::new();
    e.setup(&["acme"], &[]);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut connected: Vec<String> = Vec::new();
    for i in 0..40 {
        let local = e.path(&format!("mnt/{i}")).display().to_string();
        let mut child = if i % 3 == 2 && !connected.is_empty() {
            let victim = connected.remove(rand(connected.len() as u64) as usize);
            e.command()
                .args(["use", &victim, "--delete"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        } else {
            connected.push(local.clone());
            e.command()
                .args(["use", &local, &format!(r"\\acme\s{i}"), "--persistent"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        std::thread::sleep(std::time::Duration::from_micros(rand(12_000)));
        let _ = child.kill();
        let _ = child.wait();
        for f in ["run/connections.toml", "state/remembered.toml"] {
            if let Ok(text) = std::fs::read_to_string(e.path(f)) {
                toml::from_str::<toml::Table>(&text)
                    .unwrap_or_else(|err| panic!("{f} is torn after kill {i}: {err}\n{text}"));
            }
        }
    }
    let list = e.mpr(&["use", "--json"]);
    assert_eq!(list.code, 0, "state still loads: {list:?}");
    // No temporary files are left behind by completed writes that matter.
    let r = e.mpr(&["use", "Q:", r"\\acme\after", "--persistent", "--json"]);
    assert_eq!(r.wn(), 0, "the router still works: {r:?}");
    // The temporaries of killed writers are swept by the next writes.
    for d in ["run", "state"] {
        let left: Vec<String> = std::fs::read_dir(e.path(d))
            .unwrap()
            .flatten()
            .map(|f| f.file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{d}: {left:?}");
    }
}
