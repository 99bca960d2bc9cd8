//! Wire constants of the IPVS generic-netlink family and of the netlink
//! layers under it.
//!
//! Owns: numbers only. Every IPVS value carries the name it has in
//! `include/uapi/linux/ip_vs.h` (Linux 6.12) so it can be checked against the
//! header; netlink/genl values cite `linux/netlink.h` and
//! `linux/genetlink.h`. Must not: contain logic, or any value that is not
//! fixed by the kernel ABI.

#![allow(dead_code)] // a complete table is easier to audit than a pruned one

// ---- linux/netlink.h -------------------------------------------------------

/// `NLMSG_NOOP`
pub const NLMSG_NOOP: u16 = 0x1;
/// `NLMSG_ERROR`: payload is `struct nlmsgerr { int error; struct nlmsghdr msg; }`
pub const NLMSG_ERROR: u16 = 0x2;
/// `NLMSG_DONE`: ends a dump
pub const NLMSG_DONE: u16 = 0x3;
/// `NLMSG_OVERRUN`
pub const NLMSG_OVERRUN: u16 = 0x4;

/// `NLM_F_REQUEST`
pub const NLM_F_REQUEST: u16 = 0x01;
/// `NLM_F_MULTI`: part of a multipart reply (dump)
pub const NLM_F_MULTI: u16 = 0x02;
/// `NLM_F_ACK`: ask for an ACK even on success
pub const NLM_F_ACK: u16 = 0x04;
/// `NLM_F_DUMP` = `NLM_F_ROOT | NLM_F_MATCH`
pub const NLM_F_DUMP: u16 = 0x300;
/// `NLM_F_CAPPED` (in an `NLMSG_ERROR`): the echoed request is truncated
pub const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS` (in an `NLMSG_ERROR`): extended-ACK TLVs follow
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// `NLA_F_NESTED`: set by some senders on nests; the kernel's IPVS code
/// neither needs nor sets it (`nla_nest_start_noflag`).
pub const NLA_F_NESTED: u16 = 1 << 15;
/// `NLA_F_NET_BYTEORDER`
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
/// `NLA_TYPE_MASK`
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// `sizeof(struct nlmsghdr)`
pub const NLMSG_HDRLEN: usize = 16;
/// `GENL_HDRLEN` (`sizeof(struct genlmsghdr)`)
pub const GENL_HDRLEN: usize = 4;
/// `NLA_HDRLEN`
pub const NLA_HDRLEN: usize = 4;

/// `NETLINK_CAP_ACK` socket option: errors do not echo the whole request.
pub const NETLINK_CAP_ACK: libc::c_int = 10;

// ---- linux/genetlink.h (nlctrl) -------------------------------------------

/// `GENL_ID_CTRL`
pub const GENL_ID_CTRL: u16 = 0x10;
/// `CTRL_CMD_NEWFAMILY` (the reply command of GETFAMILY)
pub const CTRL_CMD_NEWFAMILY: u8 = 1;
/// `CTRL_CMD_GETFAMILY`
pub const CTRL_CMD_GETFAMILY: u8 = 3;
/// `CTRL_ATTR_FAMILY_ID` (u16)
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
/// `CTRL_ATTR_FAMILY_NAME` (NUL string)
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// nlctrl's version, as `genl ctrl` sends it.
pub const CTRL_VERSION: u8 = 2;

// ---- include/uapi/linux/ip_vs.h --------------------------------------------

/// `IPVS_GENL_NAME`
pub const IPVS_GENL_NAME: &str = "IPVS";
/// `IPVS_GENL_VERSION`
pub const IPVS_GENL_VERSION: u8 = 0x1;

/// `IP_VS_SCHEDNAME_MAXLEN` (includes the NUL)
pub const IP_VS_SCHEDNAME_MAXLEN: usize = 16;
/// `IP_VS_PENAME_MAXLEN` (includes the NUL)
pub const IP_VS_PENAME_MAXLEN: usize = 16;
/// `IP_VS_IFNAME_MAXLEN` (includes the NUL)
pub const IP_VS_IFNAME_MAXLEN: usize = 16;

// enum IPVS_CMD_*
pub const IPVS_CMD_UNSPEC: u8 = 0;
pub const IPVS_CMD_NEW_SERVICE: u8 = 1;
pub const IPVS_CMD_SET_SERVICE: u8 = 2;
pub const IPVS_CMD_DEL_SERVICE: u8 = 3;
pub const IPVS_CMD_GET_SERVICE: u8 = 4;
pub const IPVS_CMD_NEW_DEST: u8 = 5;
pub const IPVS_CMD_SET_DEST: u8 = 6;
pub const IPVS_CMD_DEL_DEST: u8 = 7;
pub const IPVS_CMD_GET_DEST: u8 = 8;
pub const IPVS_CMD_NEW_DAEMON: u8 = 9;
pub const IPVS_CMD_DEL_DAEMON: u8 = 10;
pub const IPVS_CMD_GET_DAEMON: u8 = 11;
pub const IPVS_CMD_SET_CONFIG: u8 = 12;
pub const IPVS_CMD_GET_CONFIG: u8 = 13;
pub const IPVS_CMD_SET_INFO: u8 = 14;
pub const IPVS_CMD_GET_INFO: u8 = 15;
pub const IPVS_CMD_ZERO: u8 = 16;
pub const IPVS_CMD_FLUSH: u8 = 17;

// enum IPVS_CMD_ATTR_* (top level of a request)
pub const IPVS_CMD_ATTR_SERVICE: u16 = 1;
pub const IPVS_CMD_ATTR_DEST: u16 = 2;
pub const IPVS_CMD_ATTR_DAEMON: u16 = 3;
pub const IPVS_CMD_ATTR_TIMEOUT_TCP: u16 = 4;
pub const IPVS_CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
pub const IPVS_CMD_ATTR_TIMEOUT_UDP: u16 = 6;

// enum IPVS_SVC_ATTR_*
pub const IPVS_SVC_ATTR_AF: u16 = 1;
pub const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
pub const IPVS_SVC_ATTR_ADDR: u16 = 3;
pub const IPVS_SVC_ATTR_PORT: u16 = 4;
pub const IPVS_SVC_ATTR_FWMARK: u16 = 5;
pub const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
pub const IPVS_SVC_ATTR_FLAGS: u16 = 7;
pub const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
pub const IPVS_SVC_ATTR_NETMASK: u16 = 9;
pub const IPVS_SVC_ATTR_STATS: u16 = 10;
pub const IPVS_SVC_ATTR_PE_NAME: u16 = 11;
pub const IPVS_SVC_ATTR_STATS64: u16 = 12;

// enum IPVS_DEST_ATTR_*
pub const IPVS_DEST_ATTR_ADDR: u16 = 1;
pub const IPVS_DEST_ATTR_PORT: u16 = 2;
pub const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
pub const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
pub const IPVS_DEST_ATTR_U_THRESH: u16 = 5;
pub const IPVS_DEST_ATTR_L_THRESH: u16 = 6;
pub const IPVS_DEST_ATTR_ACTIVE_CONNS: u16 = 7;
pub const IPVS_DEST_ATTR_INACT_CONNS: u16 = 8;
pub const IPVS_DEST_ATTR_PERSIST_CONNS: u16 = 9;
pub const IPVS_DEST_ATTR_STATS: u16 = 10;
pub const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;
pub const IPVS_DEST_ATTR_STATS64: u16 = 12;
pub const IPVS_DEST_ATTR_TUN_TYPE: u16 = 13;
pub const IPVS_DEST_ATTR_TUN_PORT: u16 = 14;
pub const IPVS_DEST_ATTR_TUN_FLAGS: u16 = 15;

// enum IPVS_DAEMON_ATTR_*
pub const IPVS_DAEMON_ATTR_STATE: u16 = 1;
pub const IPVS_DAEMON_ATTR_MCAST_IFN: u16 = 2;
pub const IPVS_DAEMON_ATTR_SYNC_ID: u16 = 3;
pub const IPVS_DAEMON_ATTR_SYNC_MAXLEN: u16 = 4;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP: u16 = 5;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP6: u16 = 6;
pub const IPVS_DAEMON_ATTR_MCAST_PORT: u16 = 7;
pub const IPVS_DAEMON_ATTR_MCAST_TTL: u16 = 8;

// enum IPVS_STATS_ATTR_*
pub const IPVS_STATS_ATTR_CONNS: u16 = 1;
pub const IPVS_STATS_ATTR_INPKTS: u16 = 2;
pub const IPVS_STATS_ATTR_OUTPKTS: u16 = 3;
pub const IPVS_STATS_ATTR_INBYTES: u16 = 4;
pub const IPVS_STATS_ATTR_OUTBYTES: u16 = 5;
pub const IPVS_STATS_ATTR_CPS: u16 = 6;
pub const IPVS_STATS_ATTR_INPPS: u16 = 7;
pub const IPVS_STATS_ATTR_OUTPPS: u16 = 8;
pub const IPVS_STATS_ATTR_INBPS: u16 = 9;
pub const IPVS_STATS_ATTR_OUTBPS: u16 = 10;
pub const IPVS_STATS_ATTR_PAD: u16 = 11;

// enum IPVS_INFO_ATTR_* (top level of the GET_INFO reply)
pub const IPVS_INFO_ATTR_VERSION: u16 = 1;
pub const IPVS_INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

// IP_VS_SVC_F_*
pub const IP_VS_SVC_F_PERSISTENT: u32 = 0x0001;
/// Kernel-internal; present in dumps, ignored on input.
pub const IP_VS_SVC_F_HASHED: u32 = 0x0002;
pub const IP_VS_SVC_F_ONEPACKET: u32 = 0x0004;
pub const IP_VS_SVC_F_SCHED1: u32 = 0x0008;
pub const IP_VS_SVC_F_SCHED2: u32 = 0x0010;
pub const IP_VS_SVC_F_SCHED3: u32 = 0x0020;

// IP_VS_CONN_F_* forwarding methods
pub const IP_VS_CONN_F_FWD_MASK: u32 = 0x0007;
pub const IP_VS_CONN_F_MASQ: u32 = 0x0000;
pub const IP_VS_CONN_F_LOCALNODE: u32 = 0x0001;
pub const IP_VS_CONN_F_TUNNEL: u32 = 0x0002;
pub const IP_VS_CONN_F_DROUTE: u32 = 0x0003;

// enum IP_VS_CONN_F_TUNNEL_TYPE_*
pub const IP_VS_CONN_F_TUNNEL_TYPE_IPIP: u8 = 0;
pub const IP_VS_CONN_F_TUNNEL_TYPE_GUE: u8 = 1;
pub const IP_VS_CONN_F_TUNNEL_TYPE_GRE: u8 = 2;

// IP_VS_TUNNEL_ENCAP_FLAG_*
pub const IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM: u16 = 0;
pub const IP_VS_TUNNEL_ENCAP_FLAG_CSUM: u16 = 1 << 0;
pub const IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM: u16 = 1 << 1;

// IP_VS_STATE_* (sync daemon)
pub const IP_VS_STATE_NONE: u32 = 0x0000;
pub const IP_VS_STATE_MASTER: u32 = 0x0001;
pub const IP_VS_STATE_BACKUP: u32 = 0x0002;

// Sync daemon defaults (`ip_vs_sync.c`, `start_sync_thread`): what the kernel
// uses for an option the request leaves out.
/// `IP_VS_SYNC_GROUP`: 224.0.0.81
pub const IP_VS_SYNC_GROUP: [u8; 4] = [224, 0, 0, 81];
/// `IP_VS_SYNC_PORT`
pub const IP_VS_SYNC_PORT: u16 = 8848;
/// The multicast TTL when none is given.
pub const IP_VS_SYNC_TTL: u8 = 1;

// ---- linux/socket.h, netinet/in.h ----------------------------------------

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
pub const IPPROTO_TCP: u16 = 6;
pub const IPPROTO_UDP: u16 = 17;
pub const IPPROTO_SCTP: u16 = 132;
