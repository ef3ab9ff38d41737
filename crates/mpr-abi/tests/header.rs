//! The C headers (`include/winnetwk.h`, `include/npapi.h`) against this crate.
//!
//! `tests/c/abi_check.c` is compiled with the project's strictest C flags and
//! run; it prints every constant and every structure size and field offset as
//! the C compiler sees them, and this test compares each line with the Rust
//! definitions. The headers are also compiled as C++, and the scriptable test
//! plugins of `tests/c/` are built in all their variants, so that a header
//! change that breaks them is caught here.
//!
//! A C and a C++ compiler (`cc`, `g++`) and `nm` are required; the tests fail
//! with a message naming what to install when one is missing.

use core::mem::{offset_of, size_of};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mpr_abi::*;

/// `[(name, value)]` from a list of constant names.
macro_rules! named {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), $name)),*]
    };
}

/// The constants other than `WN_CODES` that the headers must define.
const OTHER_CONSTANTS: &[(&str, DWORD)] = named![
    ERROR_BAD_NETPATH,
    ERROR_NETNAME_DELETED,
    ERROR_INVALID_NAME,
    ERROR_SESSION_CREDENTIAL_CONFLICT,
    ERROR_LOGON_FAILURE,
    CONNECT_UPDATE_PROFILE,
    CONNECT_UPDATE_RECENT,
    CONNECT_TEMPORARY,
    CONNECT_INTERACTIVE,
    CONNECT_PROMPT,
    CONNECT_NEED_DRIVE,
    CONNECT_REFCOUNT,
    CONNECT_REDIRECT,
    CONNECT_LOCALDRIVE,
    CONNECT_CURRENT_MEDIA,
    CONNECT_DEFERRED,
    CONNECT_COMMANDLINE,
    CONNECT_CMD_SAVECRED,
    CONNECT_CRED_RESET,
    CONNECT_REQUIRE_INTEGRITY,
    CONNECT_REQUIRE_PRIVACY,
    CONNECT_WRITE_THROUGH_SEMANTICS,
    CONNECT_GLOBAL_MAPPING,
    CONNECT_RESERVED,
    RESOURCE_CONNECTED,
    RESOURCE_GLOBALNET,
    RESOURCE_REMEMBERED,
    RESOURCE_RECENT,
    RESOURCE_CONTEXT,
    RESOURCETYPE_ANY,
    RESOURCETYPE_DISK,
    RESOURCETYPE_PRINT,
    RESOURCETYPE_RESERVED,
    RESOURCETYPE_UNKNOWN,
    RESOURCEUSAGE_CONNECTABLE,
    RESOURCEUSAGE_CONTAINER,
    RESOURCEUSAGE_NOLOCALDEVICE,
    RESOURCEUSAGE_SIBLING,
    RESOURCEUSAGE_ATTACHED,
    RESOURCEUSAGE_ALL,
    RESOURCEUSAGE_RESERVED,
    RESOURCEDISPLAYTYPE_GENERIC,
    RESOURCEDISPLAYTYPE_DOMAIN,
    RESOURCEDISPLAYTYPE_SERVER,
    RESOURCEDISPLAYTYPE_SHARE,
    RESOURCEDISPLAYTYPE_FILE,
    RESOURCEDISPLAYTYPE_GROUP,
    RESOURCEDISPLAYTYPE_NETWORK,
    RESOURCEDISPLAYTYPE_ROOT,
    RESOURCEDISPLAYTYPE_SHAREADMIN,
    RESOURCEDISPLAYTYPE_DIRECTORY,
    RESOURCEDISPLAYTYPE_TREE,
    RESOURCEDISPLAYTYPE_NDSCONTAINER,
    WNNC_SPEC_VERSION,
    WNNC_SPEC_VERSION51,
    WNNC_NET_TYPE,
    WNNC_NET_NONE,
    WNNC_NET_SMB,
    WNNC_NET_DAV,
    WNNC_DRIVER_VERSION,
    WNNC_USER,
    WNNC_USR_GETUSER,
    WNNC_CONNECTION,
    WNNC_CON_ADDCONNECTION,
    WNNC_CON_CANCELCONNECTION,
    WNNC_CON_GETCONNECTIONS,
    WNNC_CON_ADDCONNECTION3,
    WNNC_CON_ADDCONNECTION4,
    WNNC_CON_CANCELCONNECTION2,
    WNNC_CON_GETPERFORMANCE,
    WNNC_CON_DEFER,
    WNNC_DIALOG,
    WNNC_ADMIN,
    WNNC_ENUMERATION,
    WNNC_ENUM_GLOBAL,
    WNNC_ENUM_LOCAL,
    WNNC_ENUM_CONTEXT,
    WNNC_ENUM_SHAREABLE,
    WNNC_START,
    WNNC_WAIT_FOR_START,
    WNNC_CONNECTION_FLAGS,
    WNNC_CF_DEFAULT,
    WNNC_CF_MAXIMUM,
    NOTIFY_PRE,
    NOTIFY_POST,
    WNGETCON_CONNECTED,
    WNGETCON_DISCONNECTED,
];

/// `[(struct, field, offset)]` for the listed fields of one structure.
macro_rules! offsets {
    ($ty:ident: $($field:ident),* $(,)?) => {
        [$((stringify!($ty), stringify!($field), offset_of!($ty, $field))),*]
    };
}

/// Every field of every ABI structure, with its Rust offset.
fn rust_offsets() -> Vec<(&'static str, &'static str, usize)> {
    let mut v = Vec::new();
    v.extend(
        offsets!(NETRESOURCEW: dwScope, dwType, dwDisplayType, dwUsage,
        lpLocalName, lpRemoteName, lpComment, lpProvider),
    );
    v.extend(
        offsets!(NETRESOURCEA: dwScope, dwType, dwDisplayType, dwUsage,
        lpLocalName, lpRemoteName, lpComment, lpProvider),
    );
    v.extend(offsets!(NOTIFYINFO: dwNotifyStatus, dwOperationStatus, lpContext));
    v.extend(offsets!(NOTIFYADD: hwndOwner, NetResource, dwAddFlags));
    v.extend(offsets!(NOTIFYCANCEL: lpName, lpProvider, dwFlags, fForce));
    v
}

/// Every ABI structure with its Rust size.
fn rust_sizes() -> Vec<(&'static str, usize)> {
    vec![
        ("NETRESOURCEW", size_of::<NETRESOURCEW>()),
        ("NETRESOURCEA", size_of::<NETRESOURCEA>()),
        ("NOTIFYINFO", size_of::<NOTIFYINFO>()),
        ("NOTIFYADD", size_of::<NOTIFYADD>()),
        ("NOTIFYCANCEL", size_of::<NOTIFYCANCEL>()),
    ]
}

/// Every constant the headers must define, by name.
fn rust_constants() -> BTreeMap<&'static str, DWORD> {
    let mut all = BTreeMap::new();
    for &(name, value) in WN_CODES.iter().chain(OTHER_CONSTANTS) {
        if let Some(old) = all.insert(name, value) {
            panic!("{name} is listed twice (values {old} and {value})");
        }
    }
    all
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

/// A private scratch directory under `CARGO_TARGET_TMPDIR`.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("mpr-abi-header")
        .join(name);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Runs a build tool; a missing tool or a failure panics with a clear message.
fn run_tool(tool: &str, package: &str, args: &[&std::ffi::OsStr]) -> Output {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            panic!(
                "`{tool}` was not found on PATH; the C header tests need it. \
                 Install it (Debian/Ubuntu: `apt-get install {package}`)."
            )
        }
        panic!("cannot run `{tool}`: {e}")
    });
    if !output.status.success() {
        panic!(
            "`{tool} {}` failed ({}):\n{}{}",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// What `abi_check` printed, split by kind of line.
#[derive(Debug, Default)]
struct Listing {
    constants: BTreeMap<String, u64>,
    sizes: BTreeMap<String, usize>,
    offsets: BTreeMap<(String, String), usize>,
}

fn parse_listing(text: &str) -> Listing {
    let mut listing = Listing::default();
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let number = |s: &str| -> u64 {
            s.parse()
                .unwrap_or_else(|_| panic!("abi_check printed a bad number: {line:?}"))
        };
        let fresh = match words.as_slice() {
            ["sizeof", ty, n] => listing
                .sizes
                .insert(ty.to_string(), number(n) as usize)
                .is_none(),
            ["offsetof", ty, field, n] => listing
                .offsets
                .insert((ty.to_string(), field.to_string()), number(n) as usize)
                .is_none(),
            [name, value] => listing
                .constants
                .insert(name.to_string(), number(value))
                .is_none(),
            _ => panic!("abi_check printed an unexpected line: {line:?}"),
        };
        assert!(fresh, "abi_check printed {line:?} twice");
    }
    listing
}

/// Builds and runs `tests/c/abi_check.c`, once per test binary.
fn abi_listing() -> &'static Listing {
    static LISTING: std::sync::OnceLock<Listing> = std::sync::OnceLock::new();
    LISTING.get_or_init(|| {
        let root = repo_root();
        let exe = scratch("abi_check").join("abi_check");
        let include = root.join("include");
        let source = root.join("tests").join("c").join("abi_check.c");
        run_tool(
            "cc",
            "gcc",
            &[
                os("-std=c11"),
                os("-Wall"),
                os("-Wextra"),
                os("-Werror"),
                os("-pedantic"),
                os("-I"),
                include.as_os_str(),
                source.as_os_str(),
                os("-o"),
                exe.as_os_str(),
            ],
        );
        let output = Command::new(&exe)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        assert!(
            output.status.success(),
            "{} failed ({}): {}",
            exe.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        parse_listing(&String::from_utf8(output.stdout).expect("abi_check prints ASCII"))
    })
}

#[test]
fn every_wn_code_has_the_same_value_in_c() {
    let listing = abi_listing();
    for &(name, value) in WN_CODES {
        match listing.constants.get(name) {
            Some(&c) => assert_eq!(
                c,
                u64::from(value),
                "{name}: C says {c}, mpr-abi says {value}"
            ),
            None => panic!("{name} (= {value} in mpr-abi) is missing from the C headers"),
        }
    }
}

#[test]
fn connect_resource_wnnc_and_notify_constants_have_the_same_value_in_c() {
    let listing = abi_listing();
    for &(name, value) in OTHER_CONSTANTS {
        match listing.constants.get(name) {
            Some(&c) => assert_eq!(
                c,
                u64::from(value),
                "{name}: C says {c}, mpr-abi says {value}"
            ),
            None => panic!("{name} (= {value} in mpr-abi) is missing from the C headers"),
        }
    }
    // A few spelled out, so that a slip in both places at once still shows.
    let spot = [
        ("CONNECT_UPDATE_PROFILE", 1),
        ("CONNECT_REDIRECT", 0x80),
        ("CONNECT_RESERVED", 0xFF00_0000),
        ("WNNC_CONNECTION", 6),
        ("WNNC_CON_ADDCONNECTION3", 8),
        ("WNNC_SPEC_VERSION51", 0x0005_0001),
        ("NOTIFY_PRE", 1),
        ("NOTIFY_POST", 2),
        ("WN_RETRY", 1237),
        ("WN_CANCEL", 1223),
        ("RESOURCETYPE_UNKNOWN", 0xFFFF_FFFF),
    ];
    for (name, value) in spot {
        assert_eq!(listing.constants.get(name), Some(&value), "{name}");
    }
}

#[test]
fn abi_check_prints_only_constants_mpr_abi_knows() {
    let expected = rust_constants();
    let unknown: Vec<&String> = abi_listing()
        .constants
        .keys()
        .filter(|name| !expected.contains_key(name.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "constants printed by abi_check but not in mpr-abi: {unknown:?}"
    );
}

#[test]
fn every_numeric_constant_in_the_headers_is_checked() {
    let expected = rust_constants();
    let prefixes = [
        "WN_",
        "ERROR_",
        "CONNECT_",
        "RESOURCE",
        "WNNC_",
        "NOTIFY_",
        "WNGETCON_",
    ];
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for header in ["winnetwk.h", "npapi.h"] {
        let path = repo_root().join("include").join(header);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("#define") {
                continue;
            }
            let (Some(name), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            if !prefixes.iter().any(|p| name.starts_with(p))
                || !value.starts_with(|c: char| c.is_ascii_digit())
            {
                continue;
            }
            assert!(
                expected.contains_key(name),
                "{header} defines {name} = {value}, which mpr-abi does not have"
            );
            seen.insert(name.to_owned());
        }
    }
    let missing: Vec<&&str> = expected.keys().filter(|n| !seen.contains(**n)).collect();
    assert!(
        missing.is_empty(),
        "mpr-abi constants no header defines: {missing:?}"
    );
}

#[test]
fn struct_sizes_match() {
    let listing = abi_listing();
    for (ty, size) in rust_sizes() {
        assert_eq!(listing.sizes.get(ty), Some(&size), "sizeof {ty}: C vs Rust");
    }
    assert_eq!(
        listing.sizes.len(),
        rust_sizes().len(),
        "structures printed: {:?}",
        listing.sizes
    );
}

#[test]
fn field_offsets_match() {
    let listing = abi_listing();
    let offsets = rust_offsets();
    for &(ty, field, offset) in &offsets {
        let key = (ty.to_string(), field.to_string());
        assert_eq!(
            listing.offsets.get(&key),
            Some(&offset),
            "offsetof({ty}, {field}): C vs Rust"
        );
    }
    assert_eq!(
        listing.offsets.len(),
        offsets.len(),
        "fields printed: {:?}",
        listing.offsets
    );
}

#[test]
fn headers_compile_as_cpp_in_either_order() {
    let dir = scratch("cxx");
    let include = repo_root().join("include");
    let body = r#"
static_assert(sizeof(NOTIFYADD) == 64, "NOTIFYADD");
static_assert(WN_RETRY == 1237, "WN_RETRY");

// C++ has a distinct char16_t: a u"" literal needs the cast.
static LPCWSTR const local_name = reinterpret_cast<LPCWSTR>(u"Z:");

DWORD APIENTRY AddConnectNotify(LPNOTIFYINFO info, LPNOTIFYADD add) {
    if (info == nullptr || add == nullptr) return WN_BAD_POINTER;
    if (info->dwNotifyStatus == NOTIFY_PRE) info->lpContext = nullptr;
    return add->NetResource.lpLocalName == local_name ? WN_CANCEL : WN_SUCCESS;
}

DWORD APIENTRY NPGetCaps(DWORD index) {
    return index == WNNC_CONNECTION ? WNNC_CON_ADDCONNECTION | WNNC_CON_ADDCONNECTION3 : 0;
}

static_assert(std::is_same<decltype(&CancelConnectNotify), PF_CancelConnectNotify>::value,
              "PF_CancelConnectNotify");
static_assert(std::is_same<decltype(&NPCancelConnection2), PF_NPCancelConnection2>::value,
              "PF_NPCancelConnection2");
static_assert(std::is_same<decltype(&WNetSetLastErrorW), PF_WNetSetLastErrorW>::value,
              "PF_WNetSetLastErrorW");
static_assert(std::is_same<NETRESOURCE, NETRESOURCEW>::value, "generic NETRESOURCE");

DWORD use_them() {
    NETRESOURCE nr = {};
    nr.dwType = RESOURCETYPE_DISK;
    return WNetAddConnection2(&nr, nullptr, nullptr, CONNECT_TEMPORARY);
}
"#;
    for (name, first, second) in [
        ("npapi_first.cpp", "npapi.h", "winnetwk.h"),
        ("winnetwk_first.cpp", "winnetwk.h", "npapi.h"),
    ] {
        let source = dir.join(name);
        let text = format!(
            "#include \"{first}\"\n#include \"{second}\"\n#include \"{first}\"\n\
             #include <type_traits>\n{body}"
        );
        std::fs::write(&source, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", source.display()));
        run_tool(
            "g++",
            "g++",
            &[
                os("-std=c++11"),
                os("-Wall"),
                os("-Wextra"),
                os("-Werror"),
                os("-pedantic"),
                os("-fsyntax-only"),
                os("-I"),
                include.as_os_str(),
                source.as_os_str(),
            ],
        );
    }
}

#[test]
fn headers_compile_as_c_in_either_order() {
    let dir = scratch("c-order");
    let include = repo_root().join("include");
    let source = dir.join("winnetwk_first.c");
    std::fs::write(
        &source,
        "#include \"winnetwk.h\"\n#include \"npapi.h\"\n\
         static const WCHAR local_name[] = u\"Z:\";\n\
         DWORD probe(void);\n\
         DWORD probe(void) { return local_name[0] == 'Z' ? NOTIFY_POST : WN_RETRY; }\n",
    )
    .unwrap_or_else(|e| panic!("cannot write {}: {e}", source.display()));
    run_tool(
        "cc",
        "gcc",
        &[
            os("-std=c11"),
            os("-Wall"),
            os("-Wextra"),
            os("-Werror"),
            os("-pedantic"),
            os("-c"),
            os("-I"),
            include.as_os_str(),
            source.as_os_str(),
            os("-o"),
            dir.join("winnetwk_first.o").as_os_str(),
        ],
    );
}

/// The dynamic symbols a shared object defines.
fn exported(library: &Path) -> BTreeSet<String> {
    let output = run_tool(
        "nm",
        "binutils",
        &[os("-D"), os("--defined-only"), library.as_os_str()],
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect()
}

#[test]
fn test_plugins_build_in_every_variant() {
    let root = repo_root();
    let dir = scratch("plugins");
    let include = root.join("include");
    let notifyee = root.join("tests").join("c").join("notifyee_script.c");
    let provider = root.join("tests").join("c").join("provider_script.c");
    let exports = [
        "AddConnectNotify",
        "CancelConnectNotify",
        "NPGetCaps",
        "NPAddConnection",
        "NPAddConnection3",
        "NPCancelConnection",
        "NPGetConnection",
    ];
    let variants: [(&str, &Path, &[&str], &[&str]); 6] = [
        (
            "n-both",
            &notifyee,
            &["-DNOTIFYEE_NAME=\"alpha\""],
            &["AddConnectNotify", "CancelConnectNotify"],
        ),
        (
            "n-noadd",
            &notifyee,
            &["-DNOTIFYEE_NAME=\"beta\"", "-DNO_ADD"],
            &["CancelConnectNotify"],
        ),
        (
            "n-nocancel",
            &notifyee,
            &["-DNOTIFYEE_NAME=\"gamma\"", "-DNO_CANCEL"],
            &["AddConnectNotify"],
        ),
        (
            "n-none",
            &notifyee,
            &["-DNOTIFYEE_NAME=\"delta\"", "-DNO_ADD", "-DNO_CANCEL"],
            &[],
        ),
        (
            "p-full",
            &provider,
            &["-DPROVIDER_TAG=\"acme\""],
            &[
                "NPGetCaps",
                "NPAddConnection",
                "NPAddConnection3",
                "NPCancelConnection",
                "NPGetConnection",
            ],
        ),
        (
            "p-nocaps",
            &provider,
            &["-DPROVIDER_TAG=\"acme\"", "-DNO_GETCAPS"],
            &[
                "NPAddConnection",
                "NPAddConnection3",
                "NPCancelConnection",
                "NPGetConnection",
            ],
        ),
    ];
    for (name, source, defines, expected) in variants {
        let library = dir.join(format!("lib{name}.so"));
        let mut args = vec![
            os("-shared"),
            os("-fPIC"),
            os("-std=c11"),
            os("-Wall"),
            os("-Wextra"),
            os("-Werror"),
            os("-I"),
            include.as_os_str(),
        ];
        args.extend(defines.iter().map(|d| os(d)));
        args.extend([os("-o"), library.as_os_str(), source.as_os_str()]);
        run_tool("cc", "gcc", &args);

        let symbols = exported(&library);
        assert!(
            symbols.contains("mprtest_plugin_tag"),
            "{name}: exports {symbols:?}"
        );
        for export in exports {
            assert_eq!(
                symbols.contains(export),
                expected.contains(&export),
                "{name}: export {export} (exports: {symbols:?})"
            );
        }
    }
}
