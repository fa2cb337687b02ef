//! The process reader over the fixture pids: sums, highest limits, the limits cache, and
//! malformed or missing files counted while vanished processes are not.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{FIXTURES, Scratch};
use crate::resources::{
    Malformed, ProcessReader, ProcessScope, ProcessTotals, ReadError, count_entries, parse_threads,
};

/// Reads once, returning the totals and the errors reported.
fn read(reader: &mut ProcessReader) -> (ProcessTotals, Vec<ReadError>) {
    let mut errors = Vec::new();
    let totals = reader.read(&mut |err| errors.push(err));
    (totals, errors)
}

fn fixture_reader(scope: ProcessScope) -> ProcessReader {
    ProcessReader::new(PathBuf::from(FIXTURES), scope)
}

#[test]
fn parses_threads_from_status() {
    let real = fs::read_to_string(format!("{FIXTURES}/102/status")).unwrap();
    let cases: [(&str, Result<u64, Malformed>); 6] = [
        (&real, Ok(4)),
        ("Name:\tnode\nThreads:\t11\nSigQ:\t0/3707\n", Ok(11)),
        ("Threads:  7  \n", Ok(7)),
        (
            "Name:\tnode\nVmRSS:\t100 kB\n",
            Err(Malformed("no Threads line")),
        ),
        ("Threads:\n", Err(Malformed("Threads is not a number"))),
        ("Threads:\t-1\n", Err(Malformed("Threads is not a number"))),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_threads(text), expected, "{text:?}");
    }
}

#[test]
fn counts_fd_entries() {
    assert_eq!(
        count_entries(Path::new(&format!("{FIXTURES}/101/fd"))).unwrap(),
        4
    );
    assert_eq!(
        count_entries(Path::new(&format!("{FIXTURES}/102/fd"))).unwrap(),
        7
    );
    let err = count_entries(Path::new(&format!("{FIXTURES}/999/fd"))).unwrap_err();
    assert!(
        matches!(err, ReadError::Io { ref source, .. } if source.kind() == io::ErrorKind::NotFound)
    );
}

#[test]
fn sums_the_chosen_pids() {
    let mut reader = fixture_reader(ProcessScope::Pids(vec![101, 102]));
    let (totals, errors) = read(&mut reader);
    assert_eq!(
        totals,
        ProcessTotals {
            processes: 2,
            fds: 11,
            threads: 5,
            fd_limit: Some(65_536),
            // 102's Max processes is unlimited: 101's 1024 is the highest finite one.
            thread_limit: Some(1024),
        }
    );
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn all_lists_the_numeric_dirs_and_reports_bad_files() {
    let mut reader = fixture_reader(ProcessScope::All);
    let (totals, errors) = read(&mut reader);
    assert_eq!(
        totals,
        ProcessTotals {
            processes: 4,
            fds: 4 + 7 + 3 + 1,
            threads: 1 + 4 + 2,
            fd_limit: Some(65_536),
            thread_limit: Some(2048),
        }
    );
    let mut messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    messages.sort();
    assert_eq!(
        messages,
        [
            format!("cannot read {FIXTURES}/104/status"),
            format!("malformed {FIXTURES}/103/limits"),
        ]
    );
    let limits_error = errors.iter().find_map(|err| match err {
        ReadError::Malformed { source, .. } => Some(*source),
        _ => None,
    });
    assert_eq!(
        limits_error,
        Some(Malformed("soft limit is neither a number nor unlimited"))
    );

    // The malformed limits are cached: the second reading only reports the missing status.
    let (again, errors) = read(&mut reader);
    assert_eq!(again, totals);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        format!("cannot read {FIXTURES}/104/status")
    );
}

#[test]
fn kernel_threads_are_skipped() {
    let mut reader = fixture_reader(ProcessScope::Pids(vec![2, 101]));
    let (totals, errors) = read(&mut reader);
    assert_eq!((totals.processes, totals.fds, totals.threads), (1, 4, 1));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(reader.cached(), 2);
}

#[test]
fn an_unreadable_stat_is_reported_once_and_the_pid_still_counted() {
    let root = Scratch::fixture_copy("no-stat");
    fs::remove_file(root.path().join("101/stat")).unwrap();
    let mut reader = ProcessReader::new(
        root.path().to_path_buf(),
        ProcessScope::Pids(vec![101, 102]),
    );
    let (first, errors) = read(&mut reader);
    assert_eq!((first.processes, first.fds, first.threads), (2, 11, 5));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().ends_with("/101/stat"),
        "{}",
        errors[0]
    );
    let (second, errors) = read(&mut reader);
    assert_eq!(second, first);
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn vanished_pids_are_skipped_silently() {
    let mut reader = fixture_reader(ProcessScope::Pids(vec![101, 999_999]));
    let (totals, errors) = read(&mut reader);
    assert_eq!(totals.processes, 1);
    assert_eq!(totals.fds, 4);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(reader.cached(), 1);
}

#[test]
fn limits_are_read_once_and_pruned_when_the_pid_is_gone() {
    let root = Scratch::fixture_copy("limits-cache");
    let mut reader = ProcessReader::new(root.path().to_path_buf(), ProcessScope::All);
    let (first, _) = read(&mut reader);
    assert_eq!(first.fd_limit, Some(65_536));
    assert_eq!(reader.cached(), 5, "the 4 processes and kthreadd");

    // A changed limits file is not read again while the pid lives.
    root.replace("102/limits", "101/limits");
    let (second, _) = read(&mut reader);
    assert_eq!(second.fd_limit, Some(65_536));

    fs::remove_dir_all(root.path().join("102")).unwrap();
    let (third, errors) = read(&mut reader);
    assert_eq!(
        (third.processes, third.fds, third.fd_limit),
        (3, 8, Some(4096))
    );
    assert_eq!(errors.len(), 1, "only 104's missing status: {errors:?}");
    reader.prune();
    assert_eq!(reader.cached(), 4);
}

#[test]
fn an_unreadable_proc_root_is_one_error() {
    let mut reader = ProcessReader::new(PathBuf::from("/nonexistent/proc"), ProcessScope::All);
    let (totals, errors) = read(&mut reader);
    assert_eq!(totals, ProcessTotals::default());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].to_string(), "cannot read /nonexistent/proc");
}

#[test]
fn all_on_procfs_follows_processes_that_start_and_exit() {
    let root = PathBuf::from("/proc");
    if !root.join("self/fd").exists() {
        return;
    }
    let mut reader = ProcessReader::new(root, ProcessScope::All);
    assert!(matches!(
        reader.counting(),
        crate::resources::Counting::Procfs { .. }
    ));
    let (first, _) = read(&mut reader);
    assert!(first.processes >= 1 && first.fds >= 3 && first.threads >= 1);
    assert!(reader.pids().contains(&std::process::id()));

    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    read(&mut reader);
    assert!(
        reader.pids().contains(&child.id()),
        "a new process is listed"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    let (_, errors) = read(&mut reader);
    assert!(
        !reader.pids().contains(&child.id()),
        "an exited process is dropped"
    );
    assert!(errors.is_empty(), "{errors:?}");
}

/// Adds process `pid` with parent `parent` to a scratch proc tree: a copy of 101's files
/// (4 descriptors, 1 thread) with its own stat.
fn add_process(root: &Scratch, pid: u32, parent: u32) {
    let dir = root.path().join(pid.to_string());
    fs::create_dir_all(dir.join("fd")).unwrap();
    for fd in 0..4 {
        fs::write(dir.join("fd").join(fd.to_string()), "").unwrap();
    }
    for file in ["limits", "status"] {
        fs::copy(root.path().join("101").join(file), dir.join(file)).unwrap();
    }
    let stat = fs::read_to_string(root.path().join("101/stat")).unwrap();
    let rest = stat.split_once(") S 1 ").unwrap().1;
    fs::write(dir.join("stat"), format!("{pid} (child) S {parent} {rest}")).unwrap();
}

#[test]
fn descendants_of_a_pid_are_its_children_and_theirs_without_it() {
    let root = Scratch::fixture_copy("descendants");
    add_process(&root, 105, 102); // a grandchild of 101
    add_process(&root, 106, 1); // another tree
    let totals = |ancestor| {
        let mut reader = ProcessReader::new(
            root.path().to_path_buf(),
            ProcessScope::DescendantsOf(ancestor),
        );
        let (totals, _) = read(&mut reader);
        let (again, _) = read(&mut reader);
        assert_eq!(again, totals, "the cached ancestry gives the same scope");
        totals
    };
    // 102 (7 fds, 4 threads), 103 (3, 2), 104 (1, status missing), 105 (4, 1).
    let below_101 = totals(101);
    assert_eq!(
        (below_101.processes, below_101.fds, below_101.threads),
        (4, 7 + 3 + 1 + 4, 4 + 2 + 1)
    );
    let below_102 = totals(102);
    assert_eq!(
        (below_102.processes, below_102.fds, below_102.threads),
        (1, 4, 1)
    );
    // Everything but the kernel thread descends from init (pid 1).
    let below_1 = totals(1);
    assert_eq!((below_1.processes, below_1.fds), (6, 4 + 7 + 3 + 1 + 4 + 4));
    assert_eq!(totals(999).processes, 0);
}

#[test]
fn learning_caches_every_process_so_the_next_reading_opens_no_stat() {
    let root = Scratch::fixture_copy("learn");
    add_process(&root, 105, 102);
    add_process(&root, 106, 1);
    let mut reader =
        ProcessReader::new(root.path().to_path_buf(), ProcessScope::DescendantsOf(101));
    let mut errors = Vec::new();
    reader.learn(&mut |err| errors.push(err));
    assert_eq!(
        errors.len(),
        1,
        "103's garbage limits, read once: {errors:?}"
    );
    let learned = reader.cached();
    assert!(
        learned >= 7,
        "every process of the tree is known: {learned}"
    );
    // What learning read is not read again: without any stat file the reading still knows
    // who descends from 101, and counts them.
    for pid in [1, 101, 102, 103, 104, 105, 106] {
        let _ = fs::remove_file(root.path().join(pid.to_string()).join("stat"));
    }
    let (totals, _) = read(&mut reader);
    assert_eq!(
        (totals.processes, totals.fds),
        (4, 7 + 3 + 1 + 4),
        "102, 103, 104 and 105, as without learning"
    );
}

#[test]
fn the_stat_identity_names_the_parent_and_kernel_threads() {
    use crate::resources::{StatIdentity, parse_stat_identity};
    let kthreadd = fs::read_to_string(format!("{FIXTURES}/2/stat")).unwrap();
    assert_eq!(
        parse_stat_identity(&kthreadd),
        Ok(StatIdentity {
            kernel_thread: true,
            parent: 0
        })
    );
    let odd = "7 (a) b (c)) S 42 7 7 0 -1 4194560 0 0";
    assert_eq!(
        parse_stat_identity(odd),
        Ok(StatIdentity {
            kernel_thread: false,
            parent: 42
        })
    );
    assert_eq!(
        parse_stat_identity("7 (a) S x 7 7 0 -1 0"),
        Err(Malformed("ppid is not a number"))
    );
    assert_eq!(
        parse_stat_identity("7 (a) S 1 7"),
        Err(Malformed("stat has fewer than 9 fields"))
    );
}
