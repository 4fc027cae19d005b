//! Who holds a storage lease, and whether that holder still exists.
//!
//! A holder is `<pid>@<host>`. A lease left by a process of this machine that no longer exists
//! (`kill -9`, a crash) is taken over at once instead of waiting for it to lapse; a holder on
//! another machine is trusted until its lease expires.

/// This process, as a lease holder.
pub fn holder() -> String {
    format!("{}@{}", std::process::id(), host_name())
}

/// This machine's name, to tell its processes from other machines'.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// Whether `holder` (`pid@host`) is a process of this machine that no longer exists.
pub fn holder_is_gone(holder: &str) -> bool {
    let Some((pid, host)) = holder.split_once('@') else {
        return false;
    };
    host == host_name()
        && pid.parse::<u32>().is_ok()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_gone() {
        assert!(!holder_is_gone(&holder()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(holder_is_gone(&format!("{pid}@{}", host_name())));
        assert!(!holder_is_gone(&format!("{pid}@another-machine")));
        assert!(!holder_is_gone("not a holder"));
    }
}
