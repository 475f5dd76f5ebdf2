//! A WebHDFS-compatible store: namenode and datanodes.
