//! Errors of the file system, each tied to the Java exception Hadoop would throw, so WebHDFS
//! clients see the `RemoteException` (name and HTTP status) they already know how to handle.

use axum::http::StatusCode;

/// A failed file-system operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    /// No such file or directory.
    #[error("File does not exist: {0}")]
    NotFound(String),
    /// The target exists and may not be replaced.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A component of the path is a file.
    #[error("Parent path is not a directory: {0}")]
    ParentNotDirectory(String),
    /// A directory that must be a file, or the reverse.
    #[error("{0}")]
    WrongType(String),
    /// A non-recursive delete of a directory with children.
    #[error("{0} is non empty': Directory is not empty")]
    NotEmpty(String),
    /// A request argument is malformed or out of range.
    #[error("{0}")]
    IllegalArgument(String),
    /// An operation we do not serve.
    #[error("{0}")]
    Unsupported(String),
    /// A limit was exceeded (directory items, file size).
    #[error("{0}")]
    Limit(String),
    /// The store cannot complete the operation (no datanode, I/O failure).
    #[error("{0}")]
    Io(String),
    /// The namenode is still waiting for datanodes to report the blocks it knows.
    #[error("Cannot {0}. Name node is in safe mode.")]
    SafeMode(String),
}

impl FsError {
    /// The Java exception's simple name, as WebHDFS reports it.
    pub fn exception(&self) -> &'static str {
        match self {
            FsError::NotFound(_) => "FileNotFoundException",
            FsError::AlreadyExists(_) => "FileAlreadyExistsException",
            FsError::ParentNotDirectory(_) => "ParentNotDirectoryException",
            FsError::WrongType(_) => "IOException",
            FsError::NotEmpty(_) => "PathIsNotEmptyDirectoryException",
            FsError::IllegalArgument(_) => "IllegalArgumentException",
            FsError::Unsupported(_) => "UnsupportedOperationException",
            FsError::Limit(_) => "MaxDirectoryItemsExceededException",
            FsError::Io(_) => "IOException",
            FsError::SafeMode(_) => "SafeModeException",
        }
    }

    /// The Java exception's full class name.
    pub fn java_class_name(&self) -> &'static str {
        match self {
            FsError::NotFound(_) => "java.io.FileNotFoundException",
            FsError::AlreadyExists(_) => "org.apache.hadoop.fs.FileAlreadyExistsException",
            FsError::ParentNotDirectory(_) => "org.apache.hadoop.fs.ParentNotDirectoryException",
            FsError::WrongType(_) | FsError::Io(_) => "java.io.IOException",
            FsError::NotEmpty(_) => "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException",
            FsError::IllegalArgument(_) => "java.lang.IllegalArgumentException",
            FsError::Unsupported(_) => "java.lang.UnsupportedOperationException",
            FsError::Limit(_) => {
                "org.apache.hadoop.hdfs.protocol.FSLimitException$MaxDirectoryItemsExceededException"
            }
            FsError::SafeMode(_) => "org.apache.hadoop.hdfs.server.namenode.SafeModeException",
        }
    }

    /// The HTTP status Hadoop's WebHDFS `ExceptionHandler` gives this exception: 404 for a
    /// missing file, 400 for bad arguments and unsupported operations, 403 for other
    /// `IOException`s.
    pub fn status(&self) -> StatusCode {
        match self {
            FsError::NotFound(_) => StatusCode::NOT_FOUND,
            FsError::IllegalArgument(_) | FsError::Unsupported(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

impl From<webhdfs_client::path::PathError> for FsError {
    fn from(e: webhdfs_client::path::PathError) -> FsError {
        FsError::IllegalArgument(e.to_string())
    }
}
