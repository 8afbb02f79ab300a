"""Admin of classes: for support (who is in which class), not for teaching, which
happens on the /teach/ pages."""

from django.contrib import admin

from teach.models import Classroom, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "joined_at", "removed_at"]


@admin.register(Classroom)
class ClassroomAdmin(admin.ModelAdmin):
    list_display = ["name", "join_code", "created_by", "created_at", "archived_at"]
    list_filter = ["archived_at"]
    search_fields = ["name", "join_code", "instructors__username"]
    raw_id_fields = ["created_by"]
    filter_horizontal = ["instructors"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "classroom", "joined_at", "removed_at"]
    list_select_related = ["user", "classroom"]
    search_fields = ["user__username", "classroom__name"]
    raw_id_fields = ["user", "classroom"]
