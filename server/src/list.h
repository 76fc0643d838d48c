/* Intrusive circular doubly linked list: the node lives inside its owner and
 * container_of() recovers the owner, so linking and unlinking never allocate
 * and a node can leave its list in O(1) from either side. */
#ifndef PULLBOX_LIST_H
#define PULLBOX_LIST_H

#include "first.h"

struct list_node {
    struct list_node *prev, *next;
};

static inline void list_init(struct list_node *head)
{
    head->prev = head->next = head;
}

static inline bool list_empty(const struct list_node *head)
{
    return head->next == head;
}

/* A node that is on no list points to itself (after list_init or list_del). */
static inline bool list_linked(const struct list_node *n)
{
    return n->next != n && n->next != NULL;
}

static inline void list_insert_after(struct list_node *pos, struct list_node *n)
{
    n->prev = pos;
    n->next = pos->next;
    pos->next->prev = n;
    pos->next = n;
}

static inline void list_add_tail(struct list_node *head, struct list_node *n)
{
    list_insert_after(head->prev, n);
}

static inline void list_del(struct list_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

#define list_first(head, type, member) container_of((head)->next, type, member)
#define list_last(head, type, member) container_of((head)->prev, type, member)

#define list_for_each_safe(pos, tmp, head)                                                         \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                               \
         (pos) = (tmp), (tmp) = (pos)->next)

#endif
