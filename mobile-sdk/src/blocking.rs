//! Runs blocking work (HTTP through a blocking [`crate::Transport`], SQLite) on its own thread
//! and exposes it as a runtime-agnostic future, so the bindings get `suspend` / `async`
//! functions without the SDK embedding an async runtime. Dropping the future before it completes
//! raises the given cancel flag; the work stops at its next check.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::{DoudiError, Result};

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// A future for work running on another thread.
pub(crate) struct Background<T> {
    slot: Arc<Mutex<Slot<Result<T>>>>,
    cancel: Option<Arc<AtomicBool>>,
    done: bool,
}

/// Start `work` on a new thread. A panic in `work` becomes [`DoudiError::Internal`].
pub(crate) fn spawn<T: Send + 'static>(
    cancel: Option<Arc<AtomicBool>>,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Background<T> {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
    }));
    let theirs = slot.clone();
    let started = std::thread::Builder::new()
        .name("doudi-sdk".into())
        .spawn(move || {
            let out = catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|p| {
                let what = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                Err(DoudiError::internal(what))
            });
            let mut s = theirs.lock().unwrap_or_else(|e| e.into_inner());
            s.value = Some(out);
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        });
    if let Err(e) = started {
        slot.lock().unwrap_or_else(|e| e.into_inner()).value = Some(Err(DoudiError::internal(
            format!("cannot start a thread: {e}"),
        )));
    }
    Background {
        slot,
        cancel,
        done: false,
    }
}

impl<T> Future for Background<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let mut s = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match s.value.take() {
            Some(v) => {
                drop(s);
                self.done = true;
                Poll::Ready(v)
            }
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Background<T> {
    fn drop(&mut self) {
        if !self.done
            && let Some(c) = &self.cancel
        {
            c.store(true, Ordering::SeqCst);
        }
    }
}
