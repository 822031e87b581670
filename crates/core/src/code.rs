//! Closed domain enums with one spelling each. One `codes!` declaration gives an enum its
//! variants in a fixed order (`ALL`), its stable machine-readable code (`code()`/`from_code()`,
//! the only spelling the API, the CLI's `--json`, the import format and the docs use) and its
//! journal tag (`tag()`/`from_tag()`, the byte the canonical encoding stores).
//!
//! Tags are written next to each variant, never derived from its position: reordering `ALL`
//! or inserting a variant must not change what a stored entry means. A tag or code given twice
//! is a compile error (`unreachable_patterns` is denied in the generated matches), and
//! `crates/journal/tests/golden.rs` decodes a journal written by an earlier build, so a tag
//! that changed meaning fails a test.
//!
//! How to add a closed enum: declare it with `codes!`, add it to `every_code_round_trips`
//! below, encode it with `Encoder::code` and decode it with `Decoder::code`, and parse it at
//! the edge with `ringfence_wire`'s generic `code` deserializer. Nothing else spells its codes.

/// What every `codes!` enum offers, for code that works over any of them (decoding, parsing
/// input, schemas, error messages listing the accepted values).
pub trait Code: Copy + Eq + std::fmt::Debug + 'static {
    /// What a value is called in messages, e.g. `wallet class`.
    const WHAT: &'static str;
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// Every value's code, in declaration order.
    const CODES: &'static [&'static str];
    /// The stable machine-readable code, e.g. `client_individual`.
    fn code(self) -> &'static str;
    /// The byte the journal stores.
    fn tag(self) -> u8;

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|value| value.code() == code)
    }

    fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|value| value.tag() == tag)
    }

    /// The accepted codes for an error message: `hot, cold`.
    fn expected() -> String {
        Self::ALL.iter().map(|value| value.code()).collect::<Vec<_>>().join(", ")
    }
}

/// Declares a closed enum with its codes and journal tags:
///
/// ```ignore
/// codes! {
///     /// A wallet's storage tier.
///     pub enum Tier("tier") {
///         Hot = 0 => "hot",
///         Cold = 1 => "cold",
///     }
/// }
/// ```
#[macro_export]
macro_rules! codes {
    ($(#[$meta:meta])* $vis:vis enum $name:ident($what:literal) {
        $($(#[$doc:meta])* $variant:ident = $tag:literal => $code:literal,)+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$doc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable machine-readable code.
            pub const fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            #[deny(unreachable_patterns)]
            pub fn from_code(code: &str) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The byte the journal stores: fixed per variant, never its position.
            pub const fn tag(self) -> u8 {
                match self {
                    $($name::$variant => $tag,)+
                }
            }

            #[deny(unreachable_patterns)]
            pub fn from_tag(tag: u8) -> Option<$name> {
                match tag {
                    $($tag => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        // In checkpoints a value travels as its journal tag, as in the journal.
        impl $crate::serde::Serialize for $name {
            fn serialize<S: $crate::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_u8(self.tag())
            }
        }

        impl<'de> $crate::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let tag = <u8 as $crate::serde::Deserialize>::deserialize(deserializer)?;
                $name::from_tag(tag).ok_or_else(|| $crate::serde::de::Error::custom(format!("no {} has tag {tag}", $what)))
            }
        }

        impl $crate::code::Code for $name {
            const WHAT: &'static str = $what;
            const ALL: &'static [$name] = $name::ALL;
            const CODES: &'static [&'static str] = &[$($code,)+];
            fn code(self) -> &'static str {
                $name::code(self)
            }
            fn tag(self) -> u8 {
                $name::tag(self)
            }
            fn from_code(code: &str) -> Option<$name> {
                $name::from_code(code)
            }
            fn from_tag(tag: u8) -> Option<$name> {
                $name::from_tag(tag)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::Code;
    use crate::approval::PendingStateKind;
    use crate::entity::{AuthorisationBasis, ClassKind, ClientCategory, KeySchemeKind, Role, Segregation, Tier};
    use crate::movement::{MovementKind, OwnAccount, Side};
    use crate::oversight::{ExceptionKind, ExceptionState, Severity};
    use crate::safeguard::{Beneficiary, Consent, FiatAccountClass, InstitutionKind, OwnAccountUse, Purpose};

    fn round_trips<T: Code>() {
        assert!(!T::ALL.is_empty(), "{} has no values", T::WHAT);
        for (index, value) in T::ALL.iter().enumerate() {
            assert_eq!(T::from_code(value.code()), Some(*value), "{}: code {}", T::WHAT, value.code());
            assert_eq!(T::from_tag(value.tag()), Some(*value), "{}: tag {}", T::WHAT, value.tag());
            assert_eq!(T::CODES[index], value.code());
            for other in &T::ALL[index + 1..] {
                assert_ne!(value.code(), other.code(), "{}: a code given twice", T::WHAT);
                assert_ne!(value.tag(), other.tag(), "{}: a tag given twice", T::WHAT);
            }
            // One style for every code: lower-case words joined by `_`.
            assert!(
                value.code().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}: code {} is not snake_case",
                T::WHAT,
                value.code()
            );
        }
        assert_eq!(T::CODES.len(), T::ALL.len());
        assert_eq!(T::from_code("no such code"), None);
        assert_eq!(T::from_tag(u8::MAX), None);
    }

    #[test]
    fn every_code_round_trips() {
        round_trips::<ClientCategory>();
        round_trips::<Segregation>();
        round_trips::<AuthorisationBasis>();
        round_trips::<ClassKind>();
        round_trips::<Tier>();
        round_trips::<KeySchemeKind>();
        round_trips::<Role>();
        round_trips::<Side>();
        round_trips::<OwnAccount>();
        round_trips::<MovementKind>();
        round_trips::<ExceptionKind>();
        round_trips::<Severity>();
        round_trips::<ExceptionState>();
        round_trips::<OwnAccountUse>();
        round_trips::<Purpose>();
        round_trips::<Beneficiary>();
        round_trips::<Consent>();
        round_trips::<InstitutionKind>();
        round_trips::<FiatAccountClass>();
        round_trips::<PendingStateKind>();
    }
}
