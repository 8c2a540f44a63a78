//! Data that arrives from background work: one enum for idle, loading (keeping what was shown
//! before), loaded and failed (with its message), instead of booleans.

/// The state of something loaded in the background.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Loading<T> {
    /// Never asked for.
    #[default]
    Idle,
    /// Under way; what was loaded before stays shown meanwhile.
    Loading {
        /// The previous data, if any.
        stale: Option<T>,
    },
    /// Here.
    Loaded(T),
    /// Could not be loaded.
    Failed {
        /// What went wrong, for the operator.
        message: String,
        /// The previous data, if any.
        stale: Option<T>,
    },
}

impl<T> Loading<T> {
    /// Starts a (re)load, keeping what is there.
    pub fn start(&mut self) {
        let stale = self.take_data();
        *self = Loading::Loading { stale };
    }

    /// The load failed.
    pub fn fail(&mut self, message: impl Into<String>) {
        let stale = self.take_data();
        *self = Loading::Failed {
            message: message.into(),
            stale,
        };
    }

    /// The data to show: the loaded one, or the stale one while reloading or after a failure.
    pub fn data(&self) -> Option<&T> {
        match self {
            Loading::Idle => None,
            Loading::Loading { stale } | Loading::Failed { stale, .. } => stale.as_ref(),
            Loading::Loaded(t) => Some(t),
        }
    }

    /// True while loading.
    pub fn is_loading(&self) -> bool {
        matches!(self, Loading::Loading { .. })
    }

    /// The failure message, if the last load failed.
    pub fn error(&self) -> Option<&str> {
        match self {
            Loading::Failed { message, .. } => Some(message),
            _ => None,
        }
    }

    fn take_data(&mut self) -> Option<T> {
        match std::mem::take(self) {
            Loading::Idle => None,
            Loading::Loading { stale } | Loading::Failed { stale, .. } => stale,
            Loading::Loaded(t) => Some(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reloading_and_failing_keep_the_last_data() {
        let mut l: Loading<u32> = Loading::Idle;
        assert_eq!(l.data(), None);
        l.start();
        assert!(l.is_loading());
        assert_eq!(l.data(), None);
        l = Loading::Loaded(7);
        l.start();
        assert_eq!(l.data(), Some(&7), "stale data stays while reloading");
        l.fail("disk gone");
        assert_eq!(l.error(), Some("disk gone"));
        assert_eq!(l.data(), Some(&7));
        assert!(!l.is_loading());
    }
}
