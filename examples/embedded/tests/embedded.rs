//! The embedded binary runs its repository: the Rust function computes, the custom IO manager
//! stores, SQL reads both; and a repository naming what the binary lacks is refused precisely.

use std::path::Path;
use std::process::{Command, Output};

fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("repo"),
        dir.path(),
    );
    dir
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata-example-embedded"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_rust_function_and_the_custom_io_manager_materialize_beside_sql() {
    let dir = example();
    let check = run(dir.path(), &["check"]);
    assert!(check.status.success(), "{}", text(&check.stdout));
    let materialize = run(
        dir.path(),
        &[
            "materialize",
            "*",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-31",
        ],
    );
    assert!(
        materialize.status.success(),
        "{}\n{}",
        text(&materialize.stdout),
        text(&materialize.stderr)
    );
    let query = run(
        dir.path(),
        &[
            "query",
            "SELECT day, weekday, sales, total FROM sales.weekday_totals \
             WHERE day IN ('2024-01-01', '2024-01-06') ORDER BY day",
            "--json",
        ],
    );
    let rows: serde_json::Value = serde_json::from_slice(&query.stdout).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([
            {"day": "2024-01-01", "weekday": "Mon", "sales": 10, "total": 55},
            {"day": "2024-01-06", "weekday": "Sat", "sales": 10, "total": 55},
        ])
    );
    let by_weekday = run(
        dir.path(),
        &[
            "query",
            "SELECT weekday, days, total FROM sales.by_weekday WHERE weekday = 'Wed'",
            "--json",
        ],
    );
    let rows: serde_json::Value = serde_json::from_slice(&by_weekday.stdout).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([{"weekday": "Wed", "days": 5, "total": 275}])
    );
    // The custom IO manager stored the Rust asset's partitions.
    let archive = dir.path().join(".strata/archive/sales/weekday_totals");
    assert_eq!(std::fs::read_dir(archive).unwrap().count(), 31);
}

#[test]
fn an_unregistered_function_or_io_manager_is_refused_precisely() {
    let dir = example();
    std::fs::write(
        dir.path().join("assets/sales/other.toml"),
        "description = \"x\"\nrust = \"not_registered\"\n",
    )
    .unwrap();
    let check = run(dir.path(), &["check"]);
    assert_eq!(check.status.code(), Some(1));
    let out = text(&check.stdout) + &text(&check.stderr);
    assert!(
        out.contains(
            "assets/sales/other.toml:2:8: no Rust function `not_registered` is registered\n  \
             hint: this binary registers weekday_totals"
        ),
        "{out}"
    );
    std::fs::remove_file(dir.path().join("assets/sales/other.toml")).unwrap();

    let toml = dir.path().join("strata.toml");
    let project = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!("{project}\n[io_managers.lake]\nkind = \"custom\"\n"),
    )
    .unwrap();
    let status = run(dir.path(), &["status"]);
    assert_eq!(status.status.code(), Some(2));
    assert!(
        text(&status.stderr).contains(
            "[io_managers.lake] is kind = \"custom\", but this binary registers no IO manager `lake`"
        ),
        "{}",
        text(&status.stderr)
    );
}
