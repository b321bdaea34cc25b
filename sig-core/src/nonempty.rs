//! [`NonEmpty`]: a list that has at least one item by construction.
//!
//! The validated domain uses it where a rule says "at least one" (a customer's e-mails and
//! phones, a proposal's orders), so the first item is a plain reference, never an index that
//! could panic. It is stored as the first item and the rest, so an empty one cannot even be
//! written down. In JSON it is an ordinary array; deserializing an empty array is an error.

use std::fmt;
use std::ops::Index;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A list with at least one item. Iterates, indexes and serializes like a `Vec`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NonEmpty<T> {
    first: T,
    rest: Vec<T>,
}

/// Why a list could not become a [`NonEmpty`]: it was empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at least one is required, got an empty list")]
pub struct EmptyList;

impl<T> NonEmpty<T> {
    /// A list of one item.
    pub fn new(first: T) -> Self {
        NonEmpty {
            first,
            rest: Vec::new(),
        }
    }

    /// The list, if `items` has at least one.
    pub fn from_vec(items: Vec<T>) -> Result<Self, EmptyList> {
        let mut it = items.into_iter();
        let first = it.next().ok_or(EmptyList)?;
        Ok(NonEmpty {
            first,
            rest: it.collect(),
        })
    }

    /// The first item (always there).
    pub fn first(&self) -> &T {
        &self.first
    }

    /// Every item after the first.
    pub fn rest(&self) -> &[T] {
        &self.rest
    }

    /// The item at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&T> {
        match index {
            0 => Some(&self.first),
            i => self.rest.get(i - 1),
        }
    }

    /// How many items (at least 1).
    #[allow(clippy::len_without_is_empty)] // never empty, by construction
    pub fn len(&self) -> usize {
        1 + self.rest.len()
    }

    /// Iterate over the items in order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            first: Some(&self.first),
            rest: self.rest.iter(),
        }
    }

    /// Add an item at the end.
    pub fn push(&mut self, item: T) {
        self.rest.push(item);
    }

    /// Apply `f` to every item, keeping the order.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> NonEmpty<U> {
        NonEmpty {
            first: f(self.first),
            rest: self.rest.into_iter().map(f).collect(),
        }
    }

    /// The items as a `Vec`.
    pub fn into_vec(self) -> Vec<T> {
        let mut v = Vec::with_capacity(self.len());
        v.push(self.first);
        v.extend(self.rest);
        v
    }

    /// A copy of the items as a `Vec`.
    pub fn to_vec(&self) -> Vec<T>
    where
        T: Clone,
    {
        self.iter().cloned().collect()
    }

    /// Whether `item` is in the list.
    pub fn contains(&self, item: &T) -> bool
    where
        T: PartialEq,
    {
        self.iter().any(|x| x == item)
    }
}

impl<T> TryFrom<Vec<T>> for NonEmpty<T> {
    type Error = EmptyList;
    fn try_from(items: Vec<T>) -> Result<Self, EmptyList> {
        NonEmpty::from_vec(items)
    }
}

impl<T> From<NonEmpty<T>> for Vec<T> {
    fn from(list: NonEmpty<T>) -> Vec<T> {
        list.into_vec()
    }
}

impl<T> Index<usize> for NonEmpty<T> {
    type Output = T;
    /// Panics when `index` is out of range, like a slice.
    fn index(&self, index: usize) -> &T {
        match index {
            0 => &self.first,
            i => &self.rest[i - 1],
        }
    }
}

/// Iterator over the items of a [`NonEmpty`].
#[derive(Debug, Clone)]
pub struct Iter<'a, T> {
    first: Option<&'a T>,
    rest: std::slice::Iter<'a, T>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        self.first.take().or_else(|| self.rest.next())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.first.is_some()) + self.rest.len();
        (n, Some(n))
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.rest.next_back().or_else(|| self.first.take())
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

impl<'a, T> IntoIterator for &'a NonEmpty<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for NonEmpty<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<T: Serialize> Serialize for NonEmpty<T> {
    /// A JSON array, the first item first.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NonEmpty<T> {
    /// An array of at least one item.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NonEmpty::from_vec(Vec::<T>::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl<T: fmt::Display> fmt::Display for NonEmpty<T> {
    /// The items separated by `, `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            fmt::Display::fmt(item, f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_empty() {
        assert_eq!(NonEmpty::<u8>::from_vec(vec![]), Err(EmptyList));
        let mut l = NonEmpty::from_vec(vec![1, 2, 3]).unwrap();
        assert_eq!(*l.first(), 1);
        assert_eq!(l.rest(), &[2, 3]);
        assert_eq!((l.len(), l[2], l.get(3)), (3, 3, None));
        assert_eq!(l.iter().rev().copied().collect::<Vec<_>>(), vec![3, 2, 1]);
        assert_eq!(l.iter().len(), 3);
        l.push(4);
        assert!(l.contains(&4));
        assert_eq!(l.clone().map(|x| x * 10).into_vec(), vec![10, 20, 30, 40]);
        assert_eq!(l.to_string(), "1, 2, 3, 4");
        assert_eq!(NonEmpty::new('a').into_vec(), vec!['a']);
    }

    #[test]
    fn json_is_a_plain_array_and_empty_is_refused() {
        let l: NonEmpty<u8> = serde_json::from_str("[7, 8]").unwrap();
        assert_eq!(serde_json::to_string(&l).unwrap(), "[7,8]");
        let e = serde_json::from_str::<NonEmpty<u8>>("[]").unwrap_err();
        assert!(e.to_string().contains("at least one is required"), "{e}");
    }
}
