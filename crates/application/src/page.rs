//! Keyset pagination: a page is "the next `limit` rows after this id", never an OFFSET.

use uuid::Uuid;

/// `limit` is already clamped to 1..=200 by the caller's DTO validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<Uuid>,
    pub limit: u32,
}

impl PageRequest {
    pub const MAX_LIMIT: u32 = 200;
    pub const DEFAULT_LIMIT: u32 = 50;

    /// Rows to ask storage for: one more than the page, to learn whether another page exists.
    pub fn fetch_limit(&self) -> u64 {
        u64::from(self.limit) + 1
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            after: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The key to continue after, when there is more.
    pub next: Option<Uuid>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in key order.
    pub fn from_rows(mut rows: Vec<T>, request: PageRequest, key: impl Fn(&T) -> Uuid) -> Self {
        let limit = request.limit as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(&key)
        } else {
            None
        };
        Self { items: rows, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` fresh ids, paged from the start three at a time.
    fn first_page_of_three(count: usize) -> (Vec<Uuid>, Page<Uuid>) {
        let ids: Vec<Uuid> = (0..count).map(|_| Uuid::now_v7()).collect();
        let request = PageRequest {
            after: None,
            limit: 3,
        };
        let page = Page::from_rows(ids.clone(), request, |id| *id);
        (ids, page)
    }

    #[test]
    fn a_full_page_points_at_its_last_item() {
        let (ids, page) = first_page_of_three(4);
        assert_eq!(page.items, ids[..3]);
        assert_eq!(page.next, Some(ids[2]));
    }

    #[test]
    fn the_last_page_has_no_next() {
        let (_, page) = first_page_of_three(3);
        assert_eq!(page.items.len(), 3);
        assert_eq!(page.next, None);
    }
}
