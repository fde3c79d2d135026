//! steward-core's integration tests: the mechanisms against outside references (snapshot.js's
//! own scoring run by node, Gitcoin's published GR3 estimates). Tests whose reference is missing
//! say why and skip, and fail instead under `STEWARD_REQUIRE`.

mod mech;
