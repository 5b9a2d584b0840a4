//! Overall equipment effectiveness (filled in next).
