from jiesu.registry import Registry


def include(r: Registry) -> None:
    # The pages every role shares: login, home, places, categories, units, the ticket list and the ticket page.
    r.add_router("jiesu.web.pages:router")
    r.add_router("jiesu.web.work_pages:router")  # the unit workbench (/work)
    r.add_router("jiesu.web.ticket_pages:router")
    r.add_router("jiesu.web.queue_pages:router")
    r.add_router("jiesu.web.admin_data_pages:router")  # administration of the reference data (/admin/...)
    r.add_router("jiesu.web.admin_pages:router")  # administration (/admin): users, units, API keys, the audit
    r.add_router("jiesu.web.app_pages:router")  # the citizens' app (/app): 我要反映, 我的诉求
