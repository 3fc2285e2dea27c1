//! The `projects` table, and a project joined with the caller's role.

use sea_orm::FromQueryResult;
use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
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
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for Project {
    type Error = anyhow::Error;

    fn try_from(row: Model) -> anyhow::Result<Self> {
        let description = match row.description.as_deref() {
            Some(text) => parse_column("projects.description", ProjectDescription::parse(text))?,
            None => None,
        };
        Ok(Project {
            id: ProjectId::from_uuid(row.id),
            slug: parse_column("projects.slug", ProjectSlug::parse(&row.slug))?,
            name: parse_column("projects.name", ProjectName::parse(&row.name))?,
            description,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
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
        let project = Project::try_from(Model {
            id: row.id,
            slug: row.slug,
            name: row.name,
            description: row.description,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })?;
        Ok((project, role))
    }
}
