//! Statistical process control (filled in next).
