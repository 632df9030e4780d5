//! A bounded least-recently-used map: O(log n) per operation (a hash map plus an ordered index of
//! use ticks), so the caches it backs cannot grow with the number of orgs, users or nonces.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

pub struct Lru<K, V> {
    cap: usize,
    tick: u64,
    map: HashMap<K, (u64, V)>,
    order: BTreeMap<u64, K>,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            tick: 0,
            map: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The value, marked as just used.
    pub fn get(&mut self, k: &K) -> Option<&V> {
        let t = self.next_tick();
        let (old, _) = self.map.get(k)?;
        let old = *old;
        self.order.remove(&old);
        self.order.insert(t, k.clone());
        let e = self.map.get_mut(k)?;
        e.0 = t;
        Some(&e.1)
    }

    /// The value for update, marked as just used.
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.get(k)?;
        self.map.get_mut(k).map(|e| &mut e.1)
    }

    /// Inserts, evicting the least recently used entry when full.
    pub fn put(&mut self, k: K, v: V) {
        let t = self.next_tick();
        if let Some((old, _)) = self.map.remove(&k) {
            self.order.remove(&old);
        }
        while self.map.len() >= self.cap {
            let Some((_, victim)) = self.order.pop_first() else {
                break;
            };
            self.map.remove(&victim);
        }
        self.order.insert(t, k.clone());
        self.map.insert(k, (t, v));
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let (t, v) = self.map.remove(k)?;
        self.order.remove(&t);
        Some(v)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut l = Lru::new(2);
        l.put("a", 1);
        l.put("b", 2);
        assert_eq!(l.get(&"a"), Some(&1));
        l.put("c", 3);
        assert!(l.get(&"b").is_none());
        assert_eq!(l.get(&"a"), Some(&1));
        assert_eq!(l.len(), 2);
        assert_eq!(l.remove(&"a"), Some(1));
        assert_eq!(l.len(), 1);
    }
}
