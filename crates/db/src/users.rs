//! [`UserRepository`] on the `users` table.

use async_trait::async_trait;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use toolkit_application::ports::{StoredCredentials, UserRepository};
use toolkit_domain::{Email, User, UserId};

use crate::entities::users;
use crate::errors::unexpected;

pub struct SeaUserRepository {
    db: DatabaseConnection,
}

impl SeaUserRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl UserRepository for SeaUserRepository {
    async fn find_credentials(&self, email: &Email) -> anyhow::Result<Option<StoredCredentials>> {
        let row = users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await
            .map_err(unexpected("finding a user by email"))?;
        row.map(|row| {
            let password_hash = row.password_hash.clone();
            Ok(StoredCredentials {
                user: User::try_from(row)?,
                password_hash,
            })
        })
        .transpose()
    }

    async fn find_by_id(&self, id: UserId) -> anyhow::Result<Option<User>> {
        let row = users::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map_err(unexpected("finding a user by id"))?;
        row.map(User::try_from).transpose()
    }
}
