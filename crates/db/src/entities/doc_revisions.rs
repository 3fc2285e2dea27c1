//! The `doc_revisions` table: every version of every doc, keyed by `(doc_id, version)`.
//! `author` is JSON text (see [`super::docs::author_json`]).

use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "doc_revisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub doc_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i64,
    #[sea_orm(column_type = "Text")]
    pub path: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    #[sea_orm(column_type = "Text")]
    pub sha256: String,
    pub size: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub message: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub author: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::docs::Entity",
        from = "Column::DocId",
        to = "super::docs::Column::Id"
    )]
    Doc,
}

impl ActiveModelBehavior for ActiveModel {}
