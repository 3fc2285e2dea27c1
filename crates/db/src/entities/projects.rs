//! The `projects` table, and a project joined with the caller's role.

use sea_orm::FromQueryResult;
use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Related, RelationDef, RelationTrait, Uuid,
};
use toolkit_domain::{Project, ProjectDescription, ProjectId, ProjectName, ProjectSlug, Role};

use super::{parse_column, parse_role};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text", unique)]
    pub slug: String,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Bumped by every doc create and restore (takes the project row lock on PostgreSQL).
    pub content_generation: i64,
    /// Set while the project is in the trash.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::memberships::Entity")]
    Memberships,
    #[sea_orm(has_many = "super::docs::Entity")]
    Docs,
}

impl Related<super::memberships::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Memberships.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for Project {
    type Error = anyhow::Error;

    fn try_from(row: Model) -> anyhow::Result<Self> {
        project(
            row.id,
            &row.slug,
            &row.name,
            row.description.as_deref(),
            (row.created_at, row.updated_at),
        )
    }
}

/// A project from its stored columns, each parsed with its domain `parse`.
fn project(
    id: Uuid,
    slug: &str,
    name: &str,
    description: Option<&str>,
    (created_at, updated_at): (DateTimeUtc, DateTimeUtc),
) -> anyhow::Result<Project> {
    let description = match description {
        Some(text) => parse_column("projects.description", ProjectDescription::parse(text))?,
        None => None,
    };
    Ok(Project {
        id: ProjectId::from_uuid(id),
        slug: parse_column("projects.slug", ProjectSlug::parse(slug))?,
        name: parse_column("projects.name", ProjectName::parse(name))?,
        description,
        created_at,
        updated_at,
    })
}

/// `SELECT p.id, p.slug, p.name, p.description, p.created_at, p.updated_at, m.role`.
#[derive(Debug, FromQueryResult)]
pub(crate) struct ProjectWithRole {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub role: String,
}

/// The select list that [`ProjectWithRole`] reads, for projects `p` joined with memberships `m`.
pub(crate) const PROJECT_WITH_ROLE_COLUMNS: &str =
    "p.id, p.slug, p.name, p.description, p.created_at, p.updated_at, m.role";

impl TryFrom<ProjectWithRole> for (Project, Role) {
    type Error = anyhow::Error;

    fn try_from(row: ProjectWithRole) -> anyhow::Result<Self> {
        let role = parse_role(&row.role)?;
        let project = project(
            row.id,
            &row.slug,
            &row.name,
            row.description.as_deref(),
            (row.created_at, row.updated_at),
        )?;
        Ok((project, role))
    }
}
