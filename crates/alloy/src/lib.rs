//! NdFeB alloy: grades and specifications, raw materials and lots, the least-cost charge
//! optimiser, melt losses and strip casting. Pure computation: no I/O, no clocks, no global
//! state. Sources of every number: `docs/alloy-models.md` and the tests.
