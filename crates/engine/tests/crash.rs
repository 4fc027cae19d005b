//! Crash safety, proven with real `kill -9`.
//!
//! The child process is this test binary itself, re-run with only [`crash_child`] selected and
//! the environment telling it what to write (`STRATA_CRASH_*`) and where to stop
//! (`STRATA_FAILPOINTS`). The parent waits until the child announces the failpoint (or, in the
//! randomized test, a random moment), kills it with SIGKILL, reopens the instance as a restart
//! would, and checks every invariant of `Fixture::check_invariants`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use strata_storage::Storage;

use crate::fixture::Fixture;

/// The child's entry point. Selected only by the crash tests (it is `#[ignore]`d so a plain test
/// run never executes it); with no plan in the environment it does nothing.
#[test]
#[ignore = "the child process of the crash tests; they run it"]
fn crash_child() {
    let (Ok(root), Ok(plan)) = (
        std::env::var("STRATA_CRASH_ROOT"),
        std::env::var("STRATA_CRASH_PLAN"),
    ) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let fixture = Fixture::open(Path::new(&root));
        let report = |partition: &str, id: &str| {
            // One line per commit that returned: the parent's record of what must survive.
            println!("committed {partition} {id}");
        };
        match plan.split(':').collect::<Vec<_>>().as_slice() {
            ["one", partition, generation] => {
                let committed = fixture.commit(partition, generation.parse().unwrap()).await;
                report(partition, &committed.materialization.materialization_id);
            }
            ["loop", partitions, first_generation] => {
                let partitions: usize = partitions.parse().unwrap();
                let mut generation: i64 = first_generation.parse().unwrap();
                loop {
                    for p in 0..partitions {
                        let partition = format!("2013-01-{:02}", p + 1);
                        let committed = fixture.commit(&partition, generation).await;
                        report(&partition, &committed.materialization.materialization_id);
                    }
                    generation += 1;
                }
            }
            ["gc"] => fixture.collect().await,
            other => panic!("unknown crash plan {other:?}"),
        }
    });
    std::process::exit(0);
}

/// A running child and what it has reported.
struct Crashing {
    child: Child,
    failpoints: mpsc::Receiver<String>,
    commits: mpsc::Receiver<(String, String)>,
}

fn spawn(root: &Path, plan: &str, failpoint: Option<&str>) -> Crashing {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["crash::crash_child", "--exact", "--ignored", "--nocapture"])
        .env("STRATA_CRASH_ROOT", root)
        .env("STRATA_CRASH_PLAN", plan)
        .env_remove("STRATA_FAILPOINTS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(failpoint) = failpoint {
        command.env("STRATA_FAILPOINTS", format!("{failpoint}=pause"));
    }
    let mut child = command.spawn().unwrap();
    let (failpoint_tx, failpoints) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(name) = line.strip_prefix("strata failpoint reached: ") {
                let _ = failpoint_tx.send(name.to_string());
            } else {
                eprintln!("child: {line}");
            }
        }
    });
    let (commit_tx, commits) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("committed ") {
                let (partition, id) = rest.split_once(' ').unwrap();
                let _ = commit_tx.send((partition.to_string(), id.to_string()));
            }
        }
    });
    Crashing {
        child,
        failpoints,
        commits,
    }
}

impl Crashing {
    /// Waits for the child to stop at its failpoint, then kills it with SIGKILL.
    fn kill_at_failpoint(mut self, expected: &str) -> Vec<(String, String)> {
        let reached = self.failpoints.recv_timeout(Duration::from_secs(120));
        let status = self.child.try_wait().unwrap();
        assert_eq!(
            reached.as_deref(),
            Ok(expected),
            "the child should stop at {expected} (exit status so far: {status:?})"
        );
        self.kill()
    }

    /// Kills the child with SIGKILL now; returns the commits it reported.
    fn kill(mut self) -> Vec<(String, String)> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        // The reader threads end with the pipes; collect what was reported before the kill.
        std::thread::sleep(Duration::from_millis(20));
        self.commits.try_iter().collect()
    }
}

async fn seeded(root: &Path, generations: i64) -> Fixture {
    let fixture = Fixture::open(root);
    for generation in 1..=generations {
        fixture.commit("2013-01-01", generation).await;
    }
    fixture
}

/// Kills a commit of generation 2 (over a committed generation 1) at `failpoint`, restarts, and
/// checks which generation is current.
async fn kill_commit_at(failpoint: &str, expected_generation: i64) {
    let dir = tempfile::tempdir().unwrap();
    drop(seeded(dir.path(), 1).await);
    let before = Fixture::open(dir.path())
        .logged_materializations()
        .await
        .len();

    let reported =
        spawn(dir.path(), "one:2013-01-01:2", Some(failpoint)).kill_at_failpoint(failpoint);
    assert!(
        reported.is_empty(),
        "the child was killed before it could report"
    );

    let restarted = Fixture::open(dir.path());
    let logged = restarted.logged_materializations().await.len();
    assert_eq!(
        logged,
        before + usize::from(expected_generation == 2),
        "killed at {failpoint}: the event is in the log iff the commit happened"
    );
    assert_eq!(
        restarted.current_generations().await["2013-01-01"],
        expected_generation,
        "killed at {failpoint}"
    );
    restarted.check_invariants(&reported).await;
    // And the instance keeps working.
    restarted.commit("2013-01-01", 3).await;
    restarted.check_invariants(&[]).await;
    assert_eq!(restarted.current_generations().await["2013-01-01"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_staging_files_the_old_data_is_served_and_the_orphans_collected() {
    kill_commit_at("commit.after_stage", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_the_event_insert_the_old_data_is_served() {
    kill_commit_at("commit.before_event", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_the_event_insert_and_its_index_updates_nothing_is_half_recorded() {
    kill_commit_at("storage.after_event_insert", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_index_updates_but_before_the_transaction_commits_nothing_is_recorded() {
    kill_commit_at("storage.before_commit", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_event_insert_the_new_data_is_served() {
    kill_commit_at("commit.after_event", 2).await;
}

/// Kills a collection (with generation 1 superseded by 2) at `failpoint`, restarts, and checks
/// the current data is intact and the next collection finishes the job.
async fn kill_collection_at(failpoint: &str) {
    let dir = tempfile::tempdir().unwrap();
    drop(seeded(dir.path(), 2).await);
    spawn(dir.path(), "gc", Some(failpoint)).kill_at_failpoint(failpoint);
    let restarted = Fixture::open(dir.path());
    assert_eq!(restarted.current_generations().await["2013-01-01"], 2);
    restarted.check_invariants(&[]).await;
    assert!(
        restarted
            .storage
            .superseded_files("default", i64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_collection_before_deleting_the_next_collection_finishes() {
    kill_collection_at("gc.before_delete").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_collection_after_deleting_the_next_collection_finishes() {
    kill_collection_at("gc.after_delete").await;
}

/// 20 kills at random moments of a loop rewriting 5 partitions; every invariant is checked after
/// each restart. The seed is printed so a failure can be replayed with `STRATA_CRASH_SEED`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_kills_at_random_moments_break_no_invariant() {
    let seed = std::env::var("STRATA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("random kill seed: {seed} (replay with STRATA_CRASH_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    drop(Fixture::open(dir.path()));
    let mut reported = Vec::new();
    for kill in 0..20 {
        let crashing = spawn(dir.path(), &format!("loop:5:{}", kill * 1_000), None);
        // Let it start and get going (a cold start takes a while), then strike anywhere.
        std::thread::sleep(Duration::from_millis(rng.u64(150..900)));
        let commits = crashing.kill();
        eprintln!(
            "kill {kill}: {} commits reported before the kill",
            commits.len()
        );
        reported.extend(commits);
        let restarted = Fixture::open(dir.path());
        restarted.check_invariants(&reported).await;
    }
    assert!(
        reported.len() >= 20,
        "the loop should have committed many partitions over 20 runs, got {}",
        reported.len()
    );
}
