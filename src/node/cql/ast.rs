//! The statements the parser produces.

use crate::node::auth::resource::Permission;
use crate::node::db::schema::{OptionValue, Order};
use crate::node::value::CqlLiteral;

/// `[keyspace.]name`.
#[derive(Debug, Clone, PartialEq)]
pub struct QualifiedName {
    pub keyspace: Option<String>,
    pub name: String,
}

/// A bind marker: its position among the statement's markers, and its name for `:name`.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub index: usize,
    pub name: Option<String>,
}

/// A value in the statement text.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Literal(CqlLiteral),
    Marker(Marker),
    /// `now()`, `uuid()`, `toTimestamp(now())`...
    Function(String, Vec<Term>),
    List(Vec<Term>),
    /// `{...}`: a set, or an empty set/map.
    Set(Vec<Term>),
    Map(Vec<(Term, Term)>),
    Tuple(Vec<Term>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Contains,
    ContainsKey,
}

impl Op {
    /// Whether `a op b` holds, given how `a` compares to `b` (`IN`: one of its values is equal).
    pub fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq | Op::In => o == Equal,
            Op::Ne => o != Equal,
            Op::Lt => o == Less,
            Op::Le => o != Greater,
            Op::Gt => o == Greater,
            Op::Ge => o != Less,
            Op::Contains | Op::ContainsKey => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "IN",
            Op::Contains => "CONTAINS",
            Op::ContainsKey => "CONTAINS KEY",
        }
    }
}

/// The right side of `IN`.
#[derive(Debug, Clone, PartialEq)]
pub enum InValues {
    List(Vec<Term>),
    Marker(Marker),
}

/// One `WHERE` restriction.
#[derive(Debug, Clone, PartialEq)]
pub enum Relation {
    /// `col op value`
    Single { column: String, op: Op, value: Term },
    /// `col IN (...)` / `col IN ?`
    In { column: String, values: InValues },
    /// `(c1, c2) op (v1, v2)`; for `IN` each term is a tuple.
    Multi {
        columns: Vec<String>,
        op: Op,
        values: Vec<Term>,
    },
    /// `token(a, b) op value`
    Token {
        columns: Vec<String>,
        op: Op,
        value: Term,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    Column(String),
    WriteTime(String),
    Ttl(String),
    /// `count(*)` or `count(1)`.
    CountAll,
    Token(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub table: QualifiedName,
    pub distinct: bool,
    /// `None`: `*`.
    pub selectors: Option<Vec<(Selector, Option<String>)>>,
    pub relations: Vec<Relation>,
    pub order_by: Vec<(String, Order)>,
    pub per_partition_limit: Option<Term>,
    pub limit: Option<Term>,
    pub allow_filtering: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Using {
    pub ttl: Option<Term>,
    pub timestamp: Option<Term>,
}

/// `IF ...` of a conditional update.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    None,
    Exists,
    NotExists,
    Columns(Vec<ColumnCondition>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnCondition {
    pub column: String,
    /// `IF m['k'] = v`
    pub element: Option<Term>,
    pub op: Op,
    /// One term, or the list of `IN`.
    pub values: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    pub table: QualifiedName,
    pub columns: Vec<String>,
    pub values: Vec<Term>,
    pub if_not_exists: bool,
    pub using: Using,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Assignment {
    Set {
        column: String,
        value: Term,
    },
    /// `c[key] = value`
    SetElement {
        column: String,
        key: Term,
        value: Term,
    },
    /// `c = c + value`, `c += value`
    Add {
        column: String,
        value: Term,
    },
    /// `c = value + c`
    Prepend {
        column: String,
        value: Term,
    },
    /// `c = c - value`, `c -= value`
    Remove {
        column: String,
        value: Term,
    },
}

impl Assignment {
    pub fn column(&self) -> &str {
        match self {
            Assignment::Set { column, .. }
            | Assignment::SetElement { column, .. }
            | Assignment::Add { column, .. }
            | Assignment::Prepend { column, .. }
            | Assignment::Remove { column, .. } => column,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub table: QualifiedName,
    pub using: Using,
    pub assignments: Vec<Assignment>,
    pub relations: Vec<Relation>,
    pub condition: Condition,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeleteTarget {
    Column(String),
    Element(String, Term),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    pub table: QualifiedName,
    pub targets: Vec<DeleteTarget>,
    pub using: Using,
    pub relations: Vec<Relation>,
    pub condition: Condition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchType {
    Logged,
    Unlogged,
    Counter,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub kind: BatchType,
    pub using: Using,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    /// The type as written, parsed later against the keyspace.
    pub ty: String,
    pub is_static: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateTable {
    pub name: QualifiedName,
    pub if_not_exists: bool,
    pub columns: Vec<ColumnDef>,
    pub partition_key: Vec<String>,
    pub clustering: Vec<String>,
    pub clustering_order: Vec<(String, Order)>,
    pub options: Vec<(String, OptionValue)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AlterTableOp {
    Add(Vec<ColumnDef>),
    Drop(Vec<String>),
    With(Vec<(String, OptionValue)>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoleOptions {
    pub password: Option<String>,
    pub login: Option<bool>,
    pub superuser: Option<bool>,
}

/// The permissions of GRANT, REVOKE and LIST: one, or `ALL [PERMISSIONS]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionSpec {
    All,
    One(Permission),
}

/// A resource as written in GRANT, REVOKE and LIST (a table's keyspace may
/// come from the session).
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceName {
    AllKeyspaces,
    Keyspace(String),
    Table(QualifiedName),
    AllRoles,
    Role(String),
    AllFunctions,
    FunctionsIn(String),
    /// `FUNCTION [ks.]name(type, ...)`, the types as written.
    Function {
        name: QualifiedName,
        args: Vec<String>,
    },
    AllMbeans,
    Mbean(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum DescribeTarget {
    Cluster,
    Keyspaces,
    Keyspace(Option<String>),
    Tables,
    Table(QualifiedName),
    Schema,
    /// `DESCRIBE name`: a keyspace or a table.
    Name(QualifiedName),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Select(Select),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
    Batch(Batch),
    Use(String),
    CreateKeyspace {
        name: String,
        if_not_exists: bool,
        options: Vec<(String, OptionValue)>,
    },
    AlterKeyspace {
        name: String,
        if_exists: bool,
        options: Vec<(String, OptionValue)>,
    },
    DropKeyspace {
        name: String,
        if_exists: bool,
    },
    CreateTable(CreateTable),
    AlterTable {
        name: QualifiedName,
        if_exists: bool,
        op: AlterTableOp,
    },
    DropTable {
        name: QualifiedName,
        if_exists: bool,
    },
    Truncate(QualifiedName),
    CreateRole {
        name: String,
        if_not_exists: bool,
        options: RoleOptions,
    },
    AlterRole {
        name: String,
        if_exists: bool,
        options: RoleOptions,
    },
    DropRole {
        name: String,
        if_exists: bool,
    },
    ListRoles {
        of: Option<String>,
        recursive: bool,
    },
    /// `GRANT role TO grantee`.
    GrantRole {
        role: String,
        grantee: String,
    },
    /// `REVOKE role FROM revokee`.
    RevokeRole {
        role: String,
        revokee: String,
    },
    /// `GRANT permission|ALL ON resource TO grantee`.
    GrantPermissions {
        permissions: PermissionSpec,
        resource: ResourceName,
        grantee: String,
    },
    /// `REVOKE permission|ALL ON resource FROM revokee`.
    RevokePermissions {
        permissions: PermissionSpec,
        resource: ResourceName,
        revokee: String,
    },
    /// `LIST permission|ALL [ON resource] [OF role] [NORECURSIVE]`.
    ListPermissions {
        permissions: PermissionSpec,
        resource: Option<ResourceName>,
        of: Option<String>,
        recursive: bool,
    },
    Describe {
        full: bool,
        target: DescribeTarget,
    },
    /// A statement Cassandra has and ccrsim does not (yet): answered with a clear Invalid.
    Unsupported(&'static str),
}
