//! WsTicketStore: single use, expiry, and exactly one winner among concurrent redeems.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use toolkit_application::ports::{TicketHolder, WsTicketStore};
use toolkit_db::testing::{fresh_database, fresh_database_url, test_settings};
use toolkit_db::{SeaWsTicketStore, connect, migrate};
use toolkit_domain::User;

use crate::support::{now, secs, user};

fn holder_of(user: &User, access_expires_at: DateTime<Utc>) -> TicketHolder {
    TicketHolder {
        user_id: user.id,
        display_name: user.display_name.as_str().to_owned(),
        access_expires_at,
    }
}

#[tokio::test]
async fn a_ticket_redeems_once_to_its_holder() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let tickets = SeaWsTicketStore::new(db);
    let holder = holder_of(&ada, now() + secs(900));

    tickets.issue("hash-1", &holder, now() + secs(30)).await.unwrap();

    assert_eq!(tickets.redeem("hash-1", now()).await.unwrap(), Some(holder));
    assert_eq!(tickets.redeem("hash-1", now()).await.unwrap(), None, "single use");
}

#[tokio::test]
async fn unknown_and_expired_tickets_redeem_to_nothing() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let tickets = SeaWsTicketStore::new(db);
    let issued = now();
    tickets
        .issue("short", &holder_of(&ada, issued + secs(900)), issued + secs(30))
        .await
        .unwrap();

    assert_eq!(tickets.redeem("unknown", issued).await.unwrap(), None);
    // at the expiry instant and past it, the ticket is dead
    assert_eq!(tickets.redeem("short", issued + secs(30)).await.unwrap(), None);
    assert_eq!(tickets.redeem("short", issued + secs(31)).await.unwrap(), None);
}

#[tokio::test]
async fn issuing_keeps_other_live_tickets_redeemable() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let bob = user(&db, "bob@example.com").await;
    let tickets = SeaWsTicketStore::new(db);
    let (a, b) = (
        holder_of(&ada, now() + secs(900)),
        holder_of(&bob, now() + secs(600)),
    );
    tickets.issue("a", &a, now() + secs(30)).await.unwrap();
    tickets.issue("b", &b, now() + secs(30)).await.unwrap();

    assert_eq!(tickets.redeem("b", now()).await.unwrap(), Some(b));
    assert_eq!(tickets.redeem("a", now()).await.unwrap(), Some(a));
}

#[tokio::test]
async fn of_twenty_concurrent_redeems_exactly_one_wins() {
    let url = fresh_database_url().await;
    let db = connect(&toolkit_db::DbSettings {
        max_connections: 10,
        ..test_settings(url)
    })
    .await
    .unwrap();
    migrate(&db).await.unwrap();
    let ada = user(&db, "ada@example.com").await;
    let tickets = Arc::new(SeaWsTicketStore::new(db));
    let holder = holder_of(&ada, now() + secs(900));
    tickets.issue("race", &holder, now() + secs(30)).await.unwrap();

    let at = now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let tickets = Arc::clone(&tickets);
            tokio::spawn(async move { tickets.redeem("race", at).await.unwrap() })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(won) = task.await.unwrap() {
            winners.push(won);
        }
    }
    assert_eq!(winners, [holder]);
}
