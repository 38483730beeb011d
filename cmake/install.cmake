# Installation layout (cmake --install) and the Debian package (CPack).
#
#   ${prefix}/sbin/sluice                     the command; sendmail, mailq and
#   ${prefix}/sbin/sendmail, bin/mailq,       newaliases are links to it
#     bin/newaliases, lib/sendmail            (SLUICE_INSTALL_MTA_LINKS)
#   ${prefix}/lib/sluice/                     daemons and agents (daemon_directory)
#   /etc/sluice/main.cf                       installed configuration
#   /var/spool/sluice                         queue_directory (master makes it)
#   /var/lib/sluice                           data_directory, owned by mail_owner
#                                             (the package's postinst makes it;
#                                             a plain install: mkdir + chown sluice)
#   /lib/systemd/system/sluice.service        the unit (package only)
#   /etc/logrotate.d/sluice                   for sites that set maillog_file
#
# /etc and /var are absolute whatever the prefix, as Debian's MTAs have them;
# a staged install (DESTDIR) puts them below the stage.  postdrop is made
# set-gid sluicedrop when the group exists at install time (the package's
# postinst does it with dpkg-statoverride).
include(GNUInstallDirs)

# Paths below the prefix are relative, so that "cmake --install --prefix"
# moves them; /etc and /lib/systemd are absolute (below DESTDIR when staged).
set(SLUICE_DAEMON_SUBDIR "lib/sluice")
option(SLUICE_INSTALL_MTA_LINKS "Install sendmail, mailq, newaliases links" ON)

install(TARGETS sluice RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
foreach(prog master qmgr pickup postdrop bounce smtp local pipe discard error showq smtpd anvil metrics
        sluice-sim)
  if(TARGET ${prog})
    install(TARGETS ${prog} RUNTIME DESTINATION ${SLUICE_DAEMON_SUBDIR})
  endif()
endforeach()

# lmtp: the smtp program under the name that makes it speak LMTP.
if(TARGET smtp)
  install(CODE "
  file(CREATE_LINK smtp \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${SLUICE_DAEMON_SUBDIR}/lmtp\" SYMBOLIC)
")
endif()

install(FILES ${CMAKE_SOURCE_DIR}/packaging/sluice.logrotate
        DESTINATION /etc/logrotate.d RENAME sluice)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/sluice.service
        DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})

# At install time, where the prefix is known for sure: main.cf (kept when it
# exists, as a configuration file is), the MTA links, postdrop's group.
install(CODE "
  set(stage \"\$ENV{DESTDIR}\")
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  set(SLUICE_DAEMON_DIR \"\${prefix}/${SLUICE_DAEMON_SUBDIR}\")
  if(NOT EXISTS \"\${stage}/etc/sluice/main.cf\")
    configure_file(\"${CMAKE_SOURCE_DIR}/packaging/main.cf.in\"
                   \"\${stage}/etc/sluice/main.cf\" @ONLY)
    message(STATUS \"Installing: \${stage}/etc/sluice/main.cf\")
  endif()
  execute_process(COMMAND getent group sluicedrop RESULT_VARIABLE nogroup OUTPUT_QUIET)
  if(nogroup EQUAL 0 AND \"\$ENV{SLUICE_NO_SETGID}\" STREQUAL \"\")
    set(pd \"\${stage}\${SLUICE_DAEMON_DIR}/postdrop\")
    execute_process(COMMAND chgrp sluicedrop \"\${pd}\")
    execute_process(COMMAND chmod 2755 \"\${pd}\")
  endif()
")

if(SLUICE_INSTALL_MTA_LINKS)
  install(CODE "
  set(stage \"\$ENV{DESTDIR}\")
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  file(MAKE_DIRECTORY \"\${stage}\${prefix}/bin\" \"\${stage}\${prefix}/lib\")
  file(CREATE_LINK sluice \"\${stage}\${prefix}/sbin/sendmail\" SYMBOLIC)
  file(CREATE_LINK ../sbin/sluice \"\${stage}\${prefix}/bin/mailq\" SYMBOLIC)
  file(CREATE_LINK ../sbin/sluice \"\${stage}\${prefix}/bin/newaliases\" SYMBOLIC)
  file(CREATE_LINK ../sbin/sluice \"\${stage}\${prefix}/lib/sendmail\" SYMBOLIC)
")
endif()

# The Debian package: scripts/package runs cpack -G DEB.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sluice)
set(CPACK_PACKAGE_VERSION "0.8.0")
set(CPACK_PACKAGE_CONTACT "sluice developers <postmaster@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "mail transport agent with a fast Postfix-compatible queue manager")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "sluice is a mail queue manager and the mail system around it.\n It speaks Postfix's language: main.cf/master.cf, parameter names, log\n lines and tool flags (sendmail, mailq, newaliases).")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, passwd")
set(CPACK_DEBIAN_PACKAGE_PROVIDES "mail-transport-agent")
set(CPACK_DEBIAN_PACKAGE_CONFLICTS "mail-transport-agent")
set(CPACK_DEBIAN_PACKAGE_REPLACES "mail-transport-agent")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/packaging/debian/postinst;${CMAKE_SOURCE_DIR}/packaging/debian/prerm;${CMAKE_SOURCE_DIR}/packaging/debian/postrm;${CMAKE_SOURCE_DIR}/packaging/debian/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_SOURCE_DIR}/dist)
include(CPack)
