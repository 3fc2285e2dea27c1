//! Typed identifiers: a `ProjectId` can never be passed where a `UserId` is expected.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing id (from storage or from a generator).
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// A person's account.
    UserId
);
typed_id!(
    /// A project: the unit of membership, docs and keys.
    ProjectId
);
typed_id!(
    /// A doc of a project.
    DocId
);
typed_id!(
    /// A per-project API key.
    ApiKeyId
);
typed_id!(
    /// One refresh token.
    RefreshTokenId
);
typed_id!(
    /// All refresh tokens descending from one login; reuse of a rotated one revokes them all.
    RefreshTokenFamilyId
);
typed_id!(
    /// One GitHub sync run of a project (time-ordered: newer runs have larger ids).
    SyncRunId
);
typed_id!(
    /// One GitHub sync conflict: a path both sides changed since the last sync.
    ConflictId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_string_form() {
        let id = ProjectId::from_uuid(Uuid::now_v7());
        let parsed: ProjectId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
    }

    #[test]
    fn garbage_is_not_an_id() {
        assert!("not-a-uuid".parse::<UserId>().is_err());
    }
}
