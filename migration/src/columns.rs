//! Column, foreign-key and index builders the migrations share, so a table's definition reads as
//! its list of columns instead of the same sea-query chains again and again.
//!
//! Each builder calls sea-query in exactly the order the inline chains it replaced did (type,
//! then `NOT NULL`/`NULL`, then `PRIMARY KEY`/`UNIQUE`): these migrations have run in
//! deployments, so the SQL they emit on SQLite and PostgreSQL must never change. A new column
//! kind gets a new builder here rather than a change to an existing one.

use sea_orm_migration::prelude::{
    ColumnDef, DbErr, DynIden, ForeignKey, ForeignKeyAction, ForeignKeyCreateStatement, Index,
    IndexCreateStatement, IntoIden, IntoIndexColumn, SchemaManager, Table,
};

/// `<column> uuid NOT NULL PRIMARY KEY`: every table keyed by a generated id.
pub fn uuid_primary_key(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).uuid().not_null().primary_key().to_owned()
}

/// `<column> text NOT NULL PRIMARY KEY`: tables keyed by a hash or an outside id.
pub fn text_primary_key(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).text().not_null().primary_key().to_owned()
}

/// `<column> uuid NOT NULL`.
pub fn uuid(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).uuid().not_null().to_owned()
}

/// `<column> uuid NULL`.
pub fn optional_uuid(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).uuid().null().to_owned()
}

/// `<column> text NOT NULL`.
pub fn text(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).text().not_null().to_owned()
}

/// `<column> text NULL`.
pub fn optional_text(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).text().null().to_owned()
}

/// `<column> text NOT NULL UNIQUE`: column-level, so PostgreSQL names the constraint
/// `<table>_<column>_key` and SQLite reports `<table>.<column>`, which the adapter reads to tell
/// which rule a write broke.
pub fn unique_text(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).text().not_null().unique_key().to_owned()
}

/// `<column> bigint NOT NULL`.
pub fn big_integer(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).big_integer().not_null().to_owned()
}

/// `<column> integer NOT NULL`.
pub fn integer(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).integer().not_null().to_owned()
}

/// `<column> timestamp with time zone NOT NULL`.
pub fn timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

/// `<column> timestamp with time zone NULL`.
pub fn optional_timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

/// A foreign key named `name` from `table.column` to `parent.parent_column` whose rows go with
/// their parent (`ON DELETE CASCADE`): nothing in the schema outlives its project or user.
pub fn cascade(
    name: &str,
    (table, column): (impl IntoIden, impl IntoIden),
    (parent, parent_column): (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(parent, parent_column)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// A plain (not unique) index named `name` on `table`'s `columns`, in that order.
pub fn index<C: IntoIndexColumn>(
    name: &str,
    table: impl IntoIden,
    columns: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column);
    }
    index.to_owned()
}

/// Creates each index, in order.
pub async fn create_indexes(
    manager: &SchemaManager<'_>,
    indexes: impl IntoIterator<Item = IndexCreateStatement>,
) -> Result<(), DbErr> {
    for index in indexes {
        manager.create_index(index).await?;
    }
    Ok(())
}

/// Drops each table, in order: callers list children first, so no foreign key points at a
/// dropped table (dropping a table drops its indexes too).
pub async fn drop_tables(
    manager: &SchemaManager<'_>,
    tables: impl IntoIterator<Item = DynIden>,
) -> Result<(), DbErr> {
    for table in tables {
        manager.drop_table(Table::drop().table(table).to_owned()).await?;
    }
    Ok(())
}
