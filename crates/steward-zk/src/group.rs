//! A group: its members' commitments as the leaves of a Poseidon Merkle tree of fixed depth
//! (empty leaves are 0, as in Semaphore v3's incremental tree), in the order given.

use std::collections::HashMap;

use semaphore_rs::Field;
use semaphore_rs::poseidon_tree::{LazyPoseidonTree, Proof as MerklePath};

use crate::error::{Error, Result};
use crate::to_hex;

/// A membership list and its tree.
pub struct Group {
    depth: usize,
    members: Vec<Field>,
    tree: LazyPoseidonTree,
}

impl Group {
    /// The tree over `members` at `depth`: an error for a depth without keys, a list larger than
    /// 2^depth, or a commitment listed twice (the same leaf twice would let one identity hold
    /// two places and tell an observer nothing new, so it is a mistake in the list).
    pub fn new(depth: usize, members: Vec<Field>) -> Result<Self> {
        crate::check_depth(depth)?;
        let capacity = 1u64 << depth;
        if members.len() as u64 > capacity {
            return Err(Error::GroupTooLarge {
                members: members.len(),
                depth,
                capacity,
            });
        }
        let mut seen = HashMap::with_capacity(members.len());
        for (i, m) in members.iter().enumerate() {
            if let Some(first) = seen.insert(*m, i) {
                return Err(Error::DuplicateMember {
                    commitment: to_hex(m),
                    first,
                    second: i,
                });
            }
        }
        // The members fill a dense subtree just large enough for them (hashed once, bottom up,
        // instead of `depth` hashes per insert); the empty rest above it is shared.
        let prefix = members.len().next_power_of_two().trailing_zeros() as usize;
        let tree = LazyPoseidonTree::new_with_dense_prefix_with_initial_values(
            depth,
            prefix.min(depth),
            &Field::ZERO,
            &members,
        );
        Ok(Self {
            depth,
            members,
            tree: tree.derived(),
        })
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn members(&self) -> &[Field] {
        &self.members
    }

    /// The Merkle root: what a signal names and a verifier checks against.
    pub fn root(&self) -> Field {
        self.tree.root()
    }

    /// The inclusion path of `commitment`, or `NotAMember`.
    pub(crate) fn path_of(&self, commitment: Field) -> Result<MerklePath> {
        let i = self
            .members
            .iter()
            .position(|m| *m == commitment)
            .ok_or_else(|| Error::NotAMember {
                commitment: to_hex(&commitment),
                root: to_hex(&self.root()),
                members: self.members.len(),
            })?;
        Ok(self.tree.proof(i))
    }
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("depth", &self.depth)
            .field("members", &self.members.len())
            .field("root", &to_hex(&self.root()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_groups_are_clear_errors() {
        let e = Group::new(17, vec![]).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("depth 17")),
            "{e:?}"
        );
        let e = Group::new(16, vec![Field::from(1), Field::from(2), Field::from(1)])
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("positions 0 and 2")),
            "{e:?}"
        );
        let too_many: Vec<Field> = (1..=(1u64 << 16) + 1).map(Field::from).collect();
        let e = Group::new(16, too_many).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "group has 65537 members, more than a depth-16 tree holds (65536): use a deeper group"
            )
        );
    }

    #[test]
    fn root_depends_on_members_and_order() {
        let a = Group::new(16, vec![Field::from(1), Field::from(2)]).expect("group");
        let b = Group::new(16, vec![Field::from(2), Field::from(1)]).expect("group");
        let c = Group::new(16, vec![Field::from(1), Field::from(2)]).expect("group");
        let empty = Group::new(16, vec![]).expect("group");
        assert_ne!(a.root(), b.root());
        assert_eq!(a.root(), c.root());
        assert_ne!(a.root(), empty.root());
        // The path leads back to the root (the circuit checks the same).
        let path = a.path_of(Field::from(2)).expect("member");
        assert_eq!(path.root(Field::from(2)), a.root());
        assert!(a.path_of(Field::from(3)).is_err());
    }

    #[test]
    fn dense_root_matches_one_insert_at_a_time() {
        for n in [0u64, 1, 2, 3, 5, 8] {
            let members: Vec<Field> = (1..=n).map(Field::from).collect();
            let mut tree = LazyPoseidonTree::new(16, Field::ZERO);
            for (i, m) in members.iter().enumerate() {
                tree = tree.update_with_mutation(i, m);
            }
            let g = Group::new(16, members).expect("group");
            assert_eq!(g.root(), tree.root(), "{n} members");
        }
    }
}
