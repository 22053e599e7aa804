//! Which server node each client connects to, and whether a delivery crossed nodes.
//!
//! A run may be given several `--url`s, one per node of a cluster. Client `i` of every
//! session connects to `urls[i % n]`: with two URLs and four clients per session, clients
//! 0 and 2 are on node 0 and clients 1 and 3 on node 1, so every session has clients on
//! both nodes. Nodes are told apart by their index in the `--url` list, not by the URL
//! text: `--url A --url A` gives two "nodes" on one server, which checks the driver side of
//! a cluster run against an ordinary server.

/// How a delivery travelled: between clients of one node or of two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locality {
    /// The sender and the receiver are connected to the same node (URL index).
    SameNode,
    /// The sender and the receiver are connected to different nodes.
    CrossNode,
}

/// The server URLs of a run and the rule placing clients on them.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    urls: Vec<String>,
}

impl Placement {
    /// Places clients on `urls`, in order; `None` when there is no URL.
    pub(crate) fn new(urls: Vec<String>) -> Option<Self> {
        (!urls.is_empty()).then_some(Self { urls })
    }

    /// The URLs, one per node, in `--url` order.
    pub(crate) fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The index of the node client `client` (its index within its session) connects to.
    pub(crate) fn node_of(&self, client: usize) -> usize {
        client % self.urls.len()
    }

    /// The URL client `client` connects to (its session is appended to it).
    pub(crate) fn url_of(&self, client: usize) -> &str {
        &self.urls[self.node_of(client)]
    }

    /// The node index of each of the `clients` clients of a session.
    pub(crate) fn client_nodes(&self, clients: usize) -> Vec<usize> {
        (0..clients).map(|c| self.node_of(c)).collect()
    }

    /// Whether an update sent by client `sender` and received by client `receiver` (of
    /// the same session) stayed on one node.
    pub(crate) fn locality(&self, sender: usize, receiver: usize) -> Locality {
        if self.node_of(sender) == self.node_of(receiver) {
            Locality::SameNode
        } else {
            Locality::CrossNode
        }
    }

    /// One line per node: which clients of each session it serves.
    pub(crate) fn describe(&self, clients: usize) -> Vec<String> {
        self.urls
            .iter()
            .enumerate()
            .map(|(node, url)| {
                let on: Vec<String> = (0..clients)
                    .filter(|&c| self.node_of(c) == node)
                    .map(|c| c.to_string())
                    .collect();
                let on = if on.is_empty() {
                    "none".to_owned()
                } else {
                    on.join(", ")
                };
                format!("node {node} {url}: clients {on}")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(n: usize) -> Placement {
        Placement::new((0..n).map(|i| format!("ws://node{i}")).collect()).expect("some URLs")
    }

    #[test]
    fn no_url_is_no_placement() {
        assert!(Placement::new(Vec::new()).is_none());
    }

    #[test]
    fn one_url_puts_every_client_on_it() {
        let p = urls(1);
        for c in 0..7 {
            assert_eq!(p.node_of(c), 0);
            assert_eq!(p.url_of(c), "ws://node0");
        }
    }

    #[test]
    fn two_urls_alternate_clients_between_nodes() {
        let p = urls(2);
        assert_eq!(p.client_nodes(4), vec![0, 1, 0, 1]);
        assert_eq!(p.url_of(0), "ws://node0");
        assert_eq!(p.url_of(1), "ws://node1");
        assert_eq!(p.url_of(2), "ws://node0");
        assert_eq!(p.url_of(3), "ws://node1");
    }

    #[test]
    fn every_client_goes_to_its_index_modulo_the_node_count() {
        for n in 1..=5 {
            let p = urls(n);
            for c in 0..23 {
                let node = p.node_of(c);
                assert!(node < n);
                // Clients n apart share a node; neighbours do not (when there are two+).
                assert_eq!(node, p.node_of(c + n));
                if n > 1 {
                    assert_ne!(node, p.node_of(c + 1));
                }
                assert_eq!(p.url_of(c), format!("ws://node{node}"));
            }
        }
    }

    #[test]
    fn three_urls_share_clients_evenly() {
        let p = urls(3);
        let nodes = p.client_nodes(9);
        for node in 0..3 {
            assert_eq!(nodes.iter().filter(|&&n| n == node).count(), 3);
        }
    }

    #[test]
    fn with_one_url_every_delivery_is_same_node() {
        let p = urls(1);
        for s in 0..5 {
            for r in 0..5 {
                assert_eq!(p.locality(s, r), Locality::SameNode);
            }
        }
    }

    #[test]
    fn with_two_urls_locality_follows_parity() {
        let p = urls(2);
        assert_eq!(p.locality(0, 2), Locality::SameNode);
        assert_eq!(p.locality(1, 3), Locality::SameNode);
        assert_eq!(p.locality(0, 1), Locality::CrossNode);
        assert_eq!(p.locality(0, 3), Locality::CrossNode);
        assert_eq!(p.locality(3, 2), Locality::CrossNode);
        for s in 0..8 {
            for r in 0..8 {
                let expected = if s % 2 == r % 2 {
                    Locality::SameNode
                } else {
                    Locality::CrossNode
                };
                assert_eq!(p.locality(s, r), expected, "sender {s}, receiver {r}");
            }
        }
    }

    #[test]
    fn a_repeated_url_is_still_a_separate_node() {
        let p = Placement::new(vec!["ws://a".into(), "ws://a".into()]).expect("some URLs");
        assert_eq!(p.url_of(0), p.url_of(1));
        assert_eq!(p.locality(0, 1), Locality::CrossNode);
    }

    #[test]
    fn locality_is_symmetric() {
        let p = urls(3);
        for s in 0..9 {
            for r in 0..9 {
                assert_eq!(p.locality(s, r), p.locality(r, s));
            }
        }
    }

    #[test]
    fn describe_lists_each_nodes_clients() {
        let p = urls(2);
        assert_eq!(
            p.describe(3),
            vec![
                "node 0 ws://node0: clients 0, 2".to_owned(),
                "node 1 ws://node1: clients 1".to_owned(),
            ]
        );
        assert_eq!(urls(3).describe(2)[2], "node 2 ws://node2: clients none");
    }
}
