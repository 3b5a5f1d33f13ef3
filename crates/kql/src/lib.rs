//! KQL front-end (see issue 2).
