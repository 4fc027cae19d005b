//! Builds the web UI (`ui/` at the repository root) and embeds it: the bundle Vite writes to
//! `ui/dist` is copied into `OUT_DIR` and listed in a generated table of `include_bytes!`, which
//! `src/ui.rs` serves.
//!
//! - The bundle is rebuilt with npm when `ui/dist/index.html` is missing or older than anything
//!   under `ui/src`, `ui/index.html` or the package and build files; `npm ci` runs first when
//!   `ui/node_modules` is missing or older than `package-lock.json`.
//! - `STRATA_SKIP_UI=1` skips all of it (npm is never run): the binary serves a page saying how
//!   to build the UI. Rust-only work sets it.
//! - Without npm, or with a Node.js older than Vite needs (20.19), the build stops with an error
//!   saying to install Node.js or set `STRATA_SKIP_UI=1`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;
use std::{env, fs};

/// The files and folders, relative to `ui/`, whose change rebuilds the bundle.
const INPUTS: [&str; 6] = [
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=STRATA_SKIP_UI");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let ui = manifest.join("..").join("..").join("ui");

    if skipped() {
        write_table(
            &out,
            None,
            "STRATA_SKIP_UI=1 was set when this binary was built",
        );
        return;
    }
    if !ui.join("package.json").is_file() {
        println!(
            "cargo:warning=no UI sources at {}; the binary serves a page saying how to build it",
            ui.display()
        );
        write_table(
            &out,
            None,
            "its sources (ui/) were not found when it was built",
        );
        return;
    }
    for input in INPUTS {
        println!("cargo:rerun-if-changed={}", ui.join(input).display());
    }

    let dist = ui.join("dist");
    let built = modified(&dist.join("index.html"));
    let sources = INPUTS
        .iter()
        .filter_map(|input| newest(&ui.join(input)))
        .max();
    if built.is_none() || sources > built {
        build(&ui);
    }
    write_table(&out, Some(&dist), "");
}

/// Whether `STRATA_SKIP_UI` asks to leave the UI out (any value but empty or `0`).
fn skipped() -> bool {
    env::var("STRATA_SKIP_UI").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Runs `npm ci` when needed, then `npm run build`, in `ui`.
fn build(ui: &Path) {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    if Command::new(npm).arg("--version").output().is_err() {
        fail(
            "building Strata's web UI needs Node.js 20.19 or later with npm, and `npm` was not \
             found on PATH. Install Node.js (https://nodejs.org, or Debian's `nodejs` and `npm` \
             packages), or set STRATA_SKIP_UI=1 to build without the UI.",
        );
    }
    check_node();
    let lock = modified(&ui.join("package-lock.json"));
    let installed = modified(&ui.join("node_modules").join(".package-lock.json"));
    if installed.is_none() || lock > installed {
        run(ui, npm, &["ci", "--no-audit", "--no-fund"]);
    }
    run(ui, npm, &["run", "build"]);
    if modified(&ui.join("dist").join("index.html")).is_none() {
        fail("`npm run build` in ui/ succeeded but wrote no dist/index.html");
    }
}

/// Vite needs Node.js 20.19 or later: an older one stops the build with what to do.
fn check_node() {
    let version = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (20, 19) {
        fail(&format!(
            "building Strata's web UI needs Node.js 20.19 or later, and `node --version` says \
             {:?}. Install a newer Node.js (https://nodejs.org; `bash tests/run.sh` puts one from \
             the npm registry in ~/.cache/strata/node when the system's is older), or set \
             STRATA_SKIP_UI=1 to build without the UI.",
            if version.is_empty() {
                "nothing"
            } else {
                version.as_str()
            }
        ));
    }
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| fail(&format!("could not run `{program}`: {e}")));
    if !output.status.success() {
        fail(&format!(
            "`{program} {}` in {} failed ({}):\n{}{}\nFix the UI build, or set STRATA_SKIP_UI=1 \
             to build without the UI.",
            args.join(" "),
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        ));
    }
}

/// Stops the build with `message` (cargo shows the build script's stderr).
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

/// Copies the bundle into `OUT_DIR/ui` (so a later `npm run build` cannot pull files from under
/// the compiler) and writes `OUT_DIR/ui_bundle.rs`: `BUNDLE`, every file with its path, and
/// `MISSING_REASON`, why there is none.
fn write_table(out: &Path, dist: Option<&Path>, missing_reason: &str) {
    let copy = out.join("ui");
    let _ = fs::remove_dir_all(&copy);
    let mut files = Vec::new();
    if let Some(dist) = dist {
        collect(dist, dist, &mut files);
        files.sort();
    }
    let mut table = String::from(
        "/// The UI's files: path under the bundle's root (`index.html`, `assets/…`), contents.\n\
         pub(crate) static BUNDLE: &[(&str, &[u8])] = &[\n",
    );
    for relative in &files {
        let target = copy.join(relative);
        fs::create_dir_all(target.parent().expect("a file has a parent"))
            .and_then(|()| fs::copy(dist.expect("files come from dist").join(relative), &target))
            .unwrap_or_else(|e| fail(&format!("copying the UI bundle into OUT_DIR: {e}")));
        let _ = writeln!(
            table,
            "    ({:?}, include_bytes!({:?})),",
            relative.replace('\\', "/"),
            target.display().to_string()
        );
    }
    let _ = writeln!(
        table,
        "];\n/// Why the binary has no UI, when `BUNDLE` is empty.\n\
         pub(crate) const MISSING_REASON: &str = {missing_reason:?};"
    );
    let path = out.join("ui_bundle.rs");
    if fs::read_to_string(&path).ok().as_deref() != Some(table.as_str()) {
        fs::write(&path, table).unwrap_or_else(|e| fail(&format!("writing {path:?}: {e}")));
    }
}

/// Every file under `dir`, relative to `root`.
fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let entries = fs::read_dir(dir)
        .unwrap_or_else(|e| fail(&format!("reading the UI bundle {}: {e}", dir.display())));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            files.push(relative.to_string_lossy().into_owned());
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of `path` or anything under it.
fn newest(path: &Path) -> Option<SystemTime> {
    let own = modified(path);
    if !path.is_dir() {
        return own;
    }
    fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| newest(&entry.path()))
        .chain(own)
        .max()
}
