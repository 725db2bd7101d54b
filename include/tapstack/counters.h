/* tapstack counters: every dropped packet is counted with its reason, and the main events with
 * theirs. One list, one place: the enum, the names and the descriptions all come from it.
 *
 * Naming: <LAYER>_<WHAT>. Drop reasons contain DROP so tools can pick them out.
 * Add new counters at the end of their layer's block. */
#ifndef TAPSTACK_COUNTERS_H
#define TAPSTACK_COUNTERS_H

#define TS_COUNTERS(X)                                                                             \
    /* link */                                                                                     \
    X(ETH_RX, "Ethernet frames received")                                                          \
    X(ETH_TX, "Ethernet frames sent")                                                              \
    X(ETH_DROP_TRUNCATED, "frame shorter than an Ethernet header")                                 \
    X(ETH_DROP_NOT_FOR_US, "frame for another MAC address")                                        \
    X(ETH_DROP_BAD_SRC, "frame from a multicast/broadcast or our own source MAC")                  \
    X(ETH_DROP_UNKNOWN_TYPE, "EtherType we do not speak")                                          \
    X(ETH_DROP_OVERSIZE, "frame larger than the MTU allows")                                       \
    X(ETH_TX_ERROR, "driver refused a frame")                                                      \
    X(ETH_RX_GSO, "super-segments received (TCP or UDP GSO, up to 64 KiB)")                        \
    X(ETH_TX_GSO, "TCP super-segments sent (GSO, the kernel cuts them at gso_size)")               \
    X(ETH_DROP_OFFLOAD_TYPE, "virtio-net header with a GSO type we do not take (IPv6, ...)")       \
    /* ARP */                                                                                      \
    X(ARP_RX, "ARP packets received")                                                              \
    X(ARP_TX, "ARP packets sent")                                                                  \
    X(ARP_DROP_TRUNCATED, "ARP packet too short")                                                  \
    X(ARP_DROP_BAD_FORMAT, "ARP not Ethernet/IPv4 or bad lengths")                                 \
    X(ARP_DROP_BAD_OP, "ARP opcode neither request nor reply")                                     \
    X(ARP_DROP_BAD_SENDER, "ARP sender address invalid (broadcast, multicast, ours)")              \
    X(ARP_DROP_NOT_FOR_US, "ARP packet for another address")                                       \
    X(ARP_REQUEST_SENT, "ARP requests sent")                                                       \
    X(ARP_REPLY_SENT, "ARP replies sent")                                                          \
    X(ARP_RESOLVE_FAILED, "ARP resolutions that got no answer")                                    \
    X(ARP_DROP_QUEUE_FULL, "packet dropped: ARP pending queue full")                               \
    X(ARP_DROP_UNRESOLVED, "packet dropped: next hop never answered ARP")                          \
    X(ARP_CACHE_EVICT, "ARP cache entries evicted to make room")                                   \
    /* IPv4 */                                                                                     \
    X(IP_RX, "IPv4 datagrams received")                                                            \
    X(IP_TX, "IPv4 datagrams sent")                                                                \
    X(IP_DROP_TRUNCATED, "IPv4 datagram shorter than its header")                                  \
    X(IP_DROP_BAD_VERSION, "IP version not 4")                                                     \
    X(IP_DROP_BAD_HDRLEN, "IPv4 header length invalid")                                            \
    X(IP_DROP_BAD_LEN, "IPv4 total length invalid or beyond the frame")                            \
    X(IP_DROP_BAD_CSUM, "IPv4 header checksum wrong")                                              \
    X(IP_DROP_BAD_SRC, "IPv4 source address invalid (broadcast, multicast, ours)")                 \
    X(IP_DROP_NOT_FOR_US, "IPv4 datagram for another host (we do not forward)")                    \
    X(IP_DROP_BAD_OPTIONS, "IPv4 options malformed")                                               \
    X(IP_DROP_SOURCE_ROUTE, "IPv4 source-routed datagram (LSRR/SSRR) refused")                     \
    X(IP_DROP_UNKNOWN_PROTO, "IPv4 protocol we do not speak")                                      \
    X(IP_DROP_NO_ROUTE, "no route to the destination")                                             \
    X(IP_DROP_DF_TOO_BIG, "datagram larger than MTU with DF set")                                  \
    X(IP_FRAG_RX, "IPv4 fragments received")                                                       \
    X(IP_FRAG_TX, "IPv4 fragments sent")                                                           \
    X(IP_REASS_OK, "datagrams reassembled")                                                        \
    X(IP_REASS_DROP_TIMEOUT, "reassembly timed out (fragments discarded)")                         \
    X(IP_REASS_DROP_OVERLAP, "fragment overlapping others with different data")                    \
    X(IP_REASS_DROP_TOO_BIG, "fragments reach past 65535 bytes")                                   \
    X(IP_REASS_DROP_NO_MEMORY, "reassembly memory or slot bound reached")                          \
    X(IP_REASS_DROP_BAD_FRAG, "fragment malformed (length not a multiple of 8, ...)")              \
    X(IP_REASS_DUPLICATE, "duplicate fragment ignored")                                            \
    X(IP_DROP_OFFLOAD_GSO, "virtio-net GSO header does not fit the datagram (protocol, fragment)") \
    X(IP_DROP_OFFLOAD_CSUM, "virtio-net header's partial checksum not at the transport checksum")  \
    X(IP_LOOPBACK, "datagrams to ourselves (our address, 127/8) through the loopback queue")       \
    X(IP_DROP_LOOPBACK_FULL, "datagram to ourselves dropped: loopback queue full")                 \
    X(IP_DROP_LOOPBACK_DST, "datagram from the link addressed to 127/8 (only ever inside a host)") \
    /* ICMP */                                                                                     \
    X(ICMP_RX, "ICMP messages received")                                                           \
    X(ICMP_TX, "ICMP messages sent")                                                               \
    X(ICMP_ECHO_REPLIED, "echo requests answered")                                                 \
    X(ICMP_DROP_TRUNCATED, "ICMP message too short")                                               \
    X(ICMP_DROP_BAD_CSUM, "ICMP checksum wrong")                                                   \
    X(ICMP_DROP_BROADCAST, "ICMP to a broadcast address not answered")                             \
    X(ICMP_DROP_UNKNOWN_TYPE, "ICMP type we ignore")                                               \
    X(ICMP_DROP_BAD_ERROR, "ICMP error whose quoted datagram is malformed")                        \
    X(ICMP_ERR_RX, "ICMP errors passed to the transport")                                          \
    X(ICMP_UNREACH_SENT, "destination-unreachable messages sent")                                  \
    X(ICMP_RATE_LIMITED, "ICMP errors not sent because of the rate limit")                         \
    X(ICMP_DROP_NO_TRANSPORT, "ICMP error about a protocol with no transport to tell")             \
    /* UDP */                                                                                      \
    X(UDP_RX, "UDP datagrams received")                                                            \
    X(UDP_TX, "UDP datagrams sent")                                                                \
    X(UDP_DROP_TRUNCATED, "UDP datagram shorter than its header")                                  \
    X(UDP_DROP_BAD_LEN, "UDP length field invalid")                                                \
    X(UDP_DROP_BAD_CSUM, "UDP checksum wrong")                                                     \
    X(UDP_DROP_NO_PORT, "UDP datagram to a closed port")                                           \
    X(UDP_DROP_RCVBUF_FULL, "UDP datagram dropped: socket receive queue full")                     \
    /* TCP */                                                                                      \
    X(TCP_RX, "TCP segments received")                                                             \
    X(TCP_TX, "TCP segments sent")                                                                 \
    X(TCP_DROP_TRUNCATED, "TCP segment shorter than its header")                                   \
    X(TCP_DROP_BAD_HDRLEN, "TCP data offset invalid")                                              \
    X(TCP_DROP_BAD_CSUM, "TCP checksum wrong")                                                     \
    X(TCP_DROP_BAD_OPTIONS, "TCP options malformed")                                               \
    X(TCP_DROP_BAD_FLAGS, "TCP flag combination invalid (SYN+FIN, no flags, ...)")                 \
    X(TCP_DROP_NO_SOCKET, "TCP segment to a port with no listener (RST sent)")                     \
    X(TCP_DROP_RST_NO_SOCKET, "RST to a port with no connection")                                  \
    X(TCP_DROP_LISTEN_BAD, "segment to a listener that is not a plain SYN")                        \
    X(TCP_DROP_SYN_QUEUE_FULL, "SYN dropped: half-open queue full")                                \
    X(TCP_DROP_ACCEPT_QUEUE_FULL,                                                                  \
      "handshake's last ACK dropped: accept queue full (peer resends)")                            \
    X(TCP_DROP_OUT_OF_WINDOW, "segment not acceptable (out of window; ACK sent)")                  \
    X(TCP_DROP_BAD_ACK, "ACK of something not yet sent, or too old")                               \
    X(TCP_DROP_PAWS, "segment failed PAWS timestamp check")                                        \
    X(TCP_DROP_RST_OUT_OF_WINDOW, "RST outside the window ignored")                                \
    X(TCP_DROP_SYN_SENT_BAD, "bad segment in SYN_SENT")                                            \
    X(TCP_DROP_OOO_FULL, "out-of-order segment dropped: queue bound reached")                      \
    X(TCP_DROP_PAST_FIN, "out-of-order data past the peer's FIN forgotten")                        \
    X(TCP_DROP_NO_MEMORY, "segment dropped: no memory for a new connection or its data")           \
    X(TCP_DROP_CLOSED, "segment for a connection that is closing down")                            \
    X(TCP_CHALLENGE_ACK, "challenge ACKs sent (RFC 5961)")                                         \
    X(TCP_CHALLENGE_ACK_LIMITED, "challenge ACKs suppressed by the rate limit")                    \
    X(TCP_OOW_ACK_LIMITED, "ACKs to out-of-window or PAWS-failed segments suppressed (rate)")      \
    X(TCP_RST_SENT, "RSTs sent")                                                                   \
    X(TCP_RST_RX, "RSTs accepted")                                                                 \
    X(TCP_RETRANSMIT, "segments retransmitted")                                                    \
    X(TCP_RTO, "retransmission timeouts")                                                          \
    X(TCP_FAST_RETRANSMIT, "fast retransmits")                                                     \
    X(TCP_DUP_ACK_RX, "duplicate ACKs received")                                                   \
    X(TCP_OOO_QUEUED, "out-of-order segments queued")                                              \
    X(TCP_DUP_DATA_RX, "segments carrying only old data")                                          \
    X(TCP_PERSIST_PROBE, "zero-window probes sent")                                                \
    X(TCP_KEEPALIVE_SENT, "keep-alive probes sent")                                                \
    X(TCP_DELAYED_ACK, "delayed ACKs sent by the timer")                                           \
    X(TCP_CONN_TIMEOUT, "connections aborted by retransmission limit")                             \
    X(TCP_KEEPALIVE_TIMEOUT, "connections aborted by keep-alive")                                  \
    X(TCP_ACTIVE_OPEN, "connections opened by us")                                                 \
    X(TCP_PASSIVE_OPEN, "connections accepted")                                                    \
    X(TCP_TIME_WAIT_REUSE, "TIME_WAIT connections reopened by a new SYN (RFC 6191)")               \
    X(TCP_ICMP_ERR, "ICMP errors delivered to connections")                                        \
    X(TCP_ICMP_DROP_NO_CONN, "ICMP error for no known connection")                                 \
    X(TCP_SYN_COOKIE_SENT, "SYN cookies sent")                                                     \
    X(TCP_SYN_COOKIE_OK, "connections made from a valid SYN cookie")                               \
    X(TCP_DROP_SYN_COOKIE_BAD, "ACK with an invalid SYN cookie")                                   \
    X(TCP_DROP_BROADCAST, "TCP segment to a broadcast or multicast address")                       \
    X(TCP_DROP_NO_ACK, "segment without ACK in a synchronized state")                              \
    X(TCP_DROP_TIME_WAIT_RST, "RST in TIME_WAIT ignored (RFC 1337)")                               \
    X(TCP_TIME_WAIT_RECYCLED, "TIME_WAIT connections ended early: tcp_max_tw reached")             \
    X(TCP_LOST_RETRANSMIT, "segments retransmitted again (the earlier copy was lost)")             \
    X(TCP_LOSS_PROBE, "tail loss probes sent (RFC 8985)")                                          \
    X(TCP_ACCEPT_QUEUE_FULL_SYN, "SYNs answered while the accept queue was full (not dropped)")    \
    X(TCP_ACCEPT_QUEUE_RESUMED, "held handshakes resumed (SYN-ACK again) when accept() made room") \
    X(TCP_RACK_LOST, "segments found lost by RACK's time rule (RFC 8985)")                         \
    X(TCP_DUPTHRESH_LOST, "segments found lost by RFC 6675 IsLost (DupThresh SACKed above)")       \
    X(TCP_RECOVERY_PROBE, "probes of a loss recovery that went silent (first unSACKed segment)")   \
    X(TCP_DSACK_RX, "D-SACK blocks received (RFC 2883)")                                           \
    X(TCP_DSACK_TX, "D-SACK blocks sent for duplicate segments (RFC 2883)")                        \
    X(TCP_SPURIOUS_UNDO, "congestion responses undone: every retransmission D-SACKed (RFC 3708)")  \
    X(TCP_FRTO_SPURIOUS, "timeouts found spurious by F-RTO and undone (RFC 5682)")

enum ts_counter {
    TS_C_OK = 0, /* not a counter: "no drop" from a parser */
#define TS_COUNTER_ENUM(name, desc) TS_C_##name,
    TS_COUNTERS(TS_COUNTER_ENUM)
#undef TS_COUNTER_ENUM
        TS_C_COUNT
};

/* "ETH_DROP_TRUNCATED" -> "eth_drop_truncated"-style stable names and their descriptions. */
const char *ts_counter_name(enum ts_counter c);
const char *ts_counter_desc(enum ts_counter c);

#endif
