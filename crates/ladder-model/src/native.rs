//! The parts of llama.cpp that are process-wide: the backend, its log, and stderr.
//!
//! Invariants:
//! - The backend is initialised once per process ([`backend`]).
//! - llama.cpp's log is never printed unless `LADDER_LLAMA_LOG=1`; its warnings and errors
//!   are kept in a small ring ([`take_log`]) so that a failed load can say why.
//! - Contexts are created one at a time ([`CONTEXT_LOCK`]): llama.cpp mutates the model
//!   while it creates a context.

use std::collections::VecDeque;
use std::ffi::{c_char, c_void, CStr};
use std::io::{Read, Seek};
use std::sync::{Mutex, OnceLock};

use llama_cpp_2::llama_backend::LlamaBackend;

static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();
static LOG: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());
static STDERR_LOCK: Mutex<()> = Mutex::new(());
pub(crate) static CONTEXT_LOCK: Mutex<()> = Mutex::new(());

const LOG_KEEP: usize = 32;
const LEVEL_WARN: u32 = 3;
const LEVEL_CONT: u32 = 5;

/// The process's llama.cpp backend.
pub(crate) fn backend() -> &'static LlamaBackend {
    BACKEND.get_or_init(|| {
        // SAFETY: `log_callback` is a plain function that lives for the whole program and
        // only touches the `LOG` mutex; the user-data pointer is unused.
        unsafe { llama_cpp_sys_2::llama_log_set(Some(log_callback), std::ptr::null_mut()) };
        // `init` fails only when called twice; the OnceLock makes that impossible.
        LlamaBackend::init().expect("llama.cpp backend initialises once")
    })
}

unsafe extern "C" fn log_callback(level: u32, text: *const c_char, _: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a NUL-terminated string valid for the call.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    if std::env::var_os("LADDER_LLAMA_LOG").is_some_and(|v| v == "1") {
        eprint!("{text}");
    }
    if level >= LEVEL_WARN {
        let Ok(mut log) = LOG.lock() else { return };
        if level == LEVEL_CONT {
            if let Some(last) = log.back_mut() {
                last.push_str(&text);
                return;
            }
        }
        if log.len() == LOG_KEEP {
            log.pop_front();
        }
        log.push_back(text.trim_end().to_string());
    }
}

/// Forget the warnings and errors logged so far.
pub(crate) fn clear_log() {
    if let Ok(mut log) = LOG.lock() {
        log.clear();
    }
}

/// The warnings and errors logged since the last [`clear_log`], one per line.
pub(crate) fn take_log() -> String {
    let Ok(mut log) = LOG.lock() else {
        return String::new();
    };
    log.drain(..)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Run `f` with the process's stderr (fd 2) sent to a temporary file, and return what was
/// written there. llama.cpp prints grammar parse errors with `fprintf(stderr, ..)`, not
/// through its log, so this is the only way to show them to the user.
pub(crate) fn capture_stderr<T>(f: impl FnOnce() -> T) -> (T, String) {
    let _guard = STDERR_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let path = std::env::temp_dir().join(format!(
        "ladder-stderr-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let Ok(mut file) = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
    else {
        return (f(), String::new());
    };
    let _ = std::fs::remove_file(&path);
    use std::os::fd::AsRawFd;
    // SAFETY: plain POSIX calls on valid descriptors; fd 2 is restored before returning.
    let saved = unsafe {
        libc::fflush(std::ptr::null_mut());
        let saved = libc::dup(2);
        if saved >= 0 {
            libc::dup2(file.as_raw_fd(), 2);
        }
        saved
    };
    let out = f();
    if saved >= 0 {
        // SAFETY: as above; `saved` is the descriptor duplicated from fd 2.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            libc::dup2(saved, 2);
            libc::close(saved);
        }
    }
    let mut text = String::new();
    if file.rewind().is_ok() {
        let _ = file.read_to_string(&mut text);
    }
    (out, text)
}
